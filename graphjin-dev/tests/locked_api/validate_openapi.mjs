// Validates an OpenAPI document with @seriousme/openapi-schema-validator (3.0 and 3.1).
// Usage: node validate_openapi.mjs FILE.json; exit 0 when valid.
import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";

const doc = JSON.parse(readFileSync(process.argv[2], "utf8"));
const validator = new Validator();
const result = await validator.validate(doc);
if (result.valid) {
  console.log(`valid OpenAPI ${validator.version}`);
} else {
  console.log(JSON.stringify(result.errors, null, 2));
  process.exit(1);
}
