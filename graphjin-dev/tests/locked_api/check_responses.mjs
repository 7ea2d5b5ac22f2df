// Checks real calls against an OpenAPI document with ajv (JSON Schema 2020-12, the dialect
// of OpenAPI 3.1): each call's status must be one the operation documents, its response
// body must match that response's schema, and the variables it sent must match the
// operation's request schema.
// Usage: node check_responses.mjs OPENAPI.json CALLS.json, where CALLS is a list of
// {path, method, status, sent?, body}; exit 0 when every call fits.
import { readFileSync } from "node:fs";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const doc = JSON.parse(readFileSync(process.argv[2], "utf8"));
const calls = JSON.parse(readFileSync(process.argv[3], "utf8"));

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addFormat("int32", {
  type: "number",
  validate: (n) => Number.isInteger(n) && n >= -2147483648 && n <= 2147483647,
});
ajv.addFormat("int64", { type: "number", validate: (n) => Number.isInteger(n) });
ajv.addFormat("double", { type: "number", validate: () => true });
const ID = "https://graphjin.invalid/openapi.json";
ajv.addSchema({ ...doc, $id: ID });

const escape = (p) => String(p).replaceAll("~", "~0").replaceAll("/", "~1");
const pointer = (parts) => `${ID}#/${parts.map(escape).join("/")}`;
const at = (parts) => parts.reduce((o, p) => (o === undefined ? undefined : o[p]), doc);
const validate = (parts, value) => {
  const check = ajv.compile({ $ref: pointer(parts) });
  return check(value) ? null : ajv.errorsText(check.errors, { separator: "; " });
};

const problems = [];
for (const call of calls) {
  const where = `${call.method.toUpperCase()} ${call.path} -> ${call.status}`;
  const opParts = ["paths", call.path, call.method];
  const op = at(opParts);
  if (op === undefined) {
    problems.push(`${where}: the document has no such operation`);
    continue;
  }
  let responseParts = [...opParts, "responses", String(call.status)];
  let response = at(responseParts);
  if (response === undefined) {
    problems.push(`${where}: status ${call.status} is not documented (${Object.keys(op.responses).join(", ")})`);
    continue;
  }
  if (response.$ref) {
    responseParts = response.$ref.replace(/^#\//, "").split("/").map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"));
    response = at(responseParts);
  }
  const bodyError = validate([...responseParts, "content", "application/json", "schema"], call.body);
  if (bodyError) problems.push(`${where}: the response does not fit: ${bodyError}\n  ${JSON.stringify(call.body).slice(0, 400)}`);
  if (call.sent !== undefined) {
    const requestParts =
      call.method === "get"
        ? [...opParts, "parameters", 0, "content", "application/json", "schema"]
        : [...opParts, "requestBody", "content", "application/json", "schema"];
    if (at(requestParts) === undefined) {
      // An operation without variables documents no request; send none.
      if (Object.keys(call.sent ?? {}).length > 0) {
        problems.push(`${where}: variables sent, but the operation documents none`);
      }
    } else {
      const sentError = validate(requestParts, call.sent);
      if (sentError) problems.push(`${where}: the request does not fit: ${sentError}`);
    }
  }
}
if (problems.length > 0) {
  console.log(problems.join("\n"));
  process.exit(1);
}
console.log(`${calls.length} calls fit the document`);
