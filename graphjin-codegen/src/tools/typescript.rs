//! The locked API as one TypeScript module (`graphjin typescript`): for every operation its
//! `Variables` and `Data` types, an `Operations` map type, the `operations` table (name ->
//! kind, query text, sha256) and `call()`, which runs an operation by its persisted-query
//! hash with `fetch`.
//!
//! The types have the shapes and nullability of the generated Rust structs: a nullable
//! column or relation is `T | null`, a key only some roles' responses carry is optional, a
//! required variable (`$id: ID!` without default) is required and the others optional.
//! Values follow [`super::wire`], with one difference from `JSON.parse`: a PostgreSQL
//! `numeric` is `Numeric`, its exact decimal text (`"12.50"`), as the Rust side keeps it
//! exact. `call()` reads responses with a small JSON reader that keeps those numbers'
//! digits, and writes `Numeric` variables back as JSON numbers; a caller reading responses
//! with `JSON.parse` gets JavaScript numbers there instead.

use std::fmt::Write as _;

use super::response::{Node, pascal, response};
use super::wire::{Wire, WireTypes};
use crate::compile::InputShape;
use crate::project::{CompiledOperation, Project, VariableSpec};

/// Where a `Numeric` sits in a value: the value itself (or each element of its array), or
/// under some keys of an object (or of each object of an array).
#[derive(Debug, Clone, PartialEq)]
enum Spec {
    Leaf,
    Keys(Vec<(String, Spec)>),
}

impl Spec {
    fn render(&self) -> String {
        match self {
            Spec::Leaf => "1".into(),
            Spec::Keys(keys) => {
                let parts: Vec<String> = keys
                    .iter()
                    .map(|(k, s)| format!("{}: {}", key(k), s.render()))
                    .collect();
                format!("{{ {} }}", parts.join(", "))
            }
        }
    }
}

/// The TypeScript module for `project`'s compiled operations `ops`.
pub fn module(project: &Project, ops: &[CompiledOperation]) -> String {
    let wire = WireTypes::new(&project.schema);
    let mut out = String::new();
    out.push_str(HEADER);
    for op in ops {
        let pascal = pascal(&op.name);
        let comments: Vec<String> = project
            .allow_list
            .find(&op.name)
            .map(|e| {
                e.comments
                    .iter()
                    .map(|c| c.trim_start_matches('#').trim().to_string())
                    .filter(|c| !c.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let mut doc = comments.join(" ");
        if !doc.is_empty() {
            doc.push(' ');
        }
        let _ = write!(
            out,
            "\n/** {doc}The variables of `{} {}`. */\n",
            op.kind.keyword(),
            op.name
        );
        if op.variables.is_empty() {
            let _ = writeln!(
                out,
                "export type {pascal}Variables = Record<string, never>;"
            );
        } else {
            let _ = writeln!(out, "export interface {pascal}Variables {{");
            for v in &op.variables {
                let ty = match &v.input {
                    Some(shape) => input_shape(shape, &wire, 1),
                    None => input_type(&wire.of(&v.pg_type)),
                };
                let _ = writeln!(out, "  /** `${}`, used as `{}`. */", v.name, v.pg_type);
                if v.required {
                    let _ = writeln!(out, "  {}: {ty};", key(&v.name));
                } else {
                    let _ = writeln!(out, "  {}?: {ty} | null;", key(&v.name));
                }
            }
            out.push_str("}\n");
        }
        let _ = write!(
            out,
            "\n/** {doc}The `data` of `{} {}`. */\nexport interface {pascal}Data ",
            op.kind.keyword(),
            op.name
        );
        match response(op) {
            Node::Object { fields, .. } => {
                out.push_str(&object_type(&fields, &wire, 0));
                out.push('\n');
            }
            _ => out.push_str("{}\n"),
        }
    }

    out.push_str(
        "\n/** Every operation: its kind, variables and data. */\nexport interface Operations {\n",
    );
    for op in ops {
        let p = pascal(&op.name);
        let _ = writeln!(
            out,
            "  {}: {{ kind: \"{}\"; variables: {p}Variables; data: {p}Data }};",
            key(&op.name),
            op.kind.keyword()
        );
    }
    out.push_str("}\n");

    out.push_str("\n/** Every operation's query text (as allow-listed), its sha256 (what the persisted-query route takes) and where its `Numeric` values sit. */\nexport const operations = {\n");
    for op in ops {
        let data = match numeric_spec(&response(op), &wire) {
            Some(s) => s.render(),
            None => "{}".into(),
        };
        let vars = variables_spec(&op.variables, &wire)
            .map(|s| s.render())
            .unwrap_or_else(|| "{}".into());
        let _ = writeln!(
            out,
            "  {}: {{\n    name: {},\n    kind: \"{}\",\n    query: {},\n    sha256: \"{}\",\n    numeric: {data},\n    numericVariables: {vars},\n  }},",
            key(&op.name),
            js_string(&op.name),
            op.kind.keyword(),
            js_string(op.source.trim()),
            op.sha256
        );
    }
    out.push_str("} as const satisfies { [K in OperationName]: OperationInfo<K> };\n");
    out.push_str(CALLER);
    out
}

const HEADER: &str = r#"// The locked API of this GraphJin project, generated by `graphjin typescript` from
// allow.list, db.graphql and the config. Do not edit: regenerate it after changing them.

/** A PostgreSQL `numeric`: its exact decimal text, e.g. `"12.50"` (`call()` keeps every digit). */
export type Numeric = string;

/** Any JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
"#;

const CALLER: &str = r#"
/** An operation's name. */
export type OperationName = keyof Operations;

/** Where the `Numeric` values of a value sit: `1` for the value itself (or each element of an array), else per key. */
export type NumericSpec = 1 | { readonly [key: string]: NumericSpec };

/** One entry of `operations`. */
export interface OperationInfo<K extends OperationName> {
  readonly name: K;
  readonly kind: Operations[K]["kind"];
  readonly query: string;
  readonly sha256: string;
  readonly numeric: NumericSpec;
  readonly numericVariables: NumericSpec;
}

/** The operations `call()` runs over HTTP (subscriptions run over the WebSocket). */
export type CallableName = {
  [K in OperationName]: Operations[K]["kind"] extends "subscription" ? never : K;
}[OperationName];

/** How `call()` reaches the server. */
export interface CallOptions {
  /** Where the API is mounted (default `"/api"`): requests go to `${baseUrl}/v1/graphql`. */
  baseUrl?: string;
  /** Extra request headers, e.g. `{ Authorization: "Bearer ..." }`. */
  headers?: Record<string, string>;
  /** Send the query text along with its hash (default: the hash alone). */
  sendQuery?: boolean;
  /** The `fetch` to use (default: the global one). */
  fetch?: typeof fetch;
  /** Aborts the request. */
  signal?: AbortSignal;
}

/** One error of a failed call, as the server sends it. */
export interface GraphJinErrorItem {
  message: string;
  extensions?: { code?: string; [key: string]: unknown };
}

/** A call the server refused or could not run. */
export class GraphJinError extends Error {
  readonly status: number;
  readonly errors: GraphJinErrorItem[];
  constructor(status: number, errors: GraphJinErrorItem[]) {
    super(errors.map((e) => e.message).join("; ") || `HTTP ${status}`);
    this.name = "GraphJinError";
    this.status = status;
    this.errors = errors;
  }
  /** The first error's `extensions.code`, e.g. `"UNAUTHENTICATED"`. */
  get code(): string | undefined {
    return this.errors[0]?.extensions?.code;
  }
}

type CallArgs<K extends CallableName> = {} extends Operations[K]["variables"]
  ? [variables?: Operations[K]["variables"], options?: CallOptions]
  : [variables: Operations[K]["variables"], options?: CallOptions];

/** Runs operation `name` with its variables through `POST ${baseUrl}/v1/graphql` by its persisted-query hash, and returns its `data`. */
export async function call<K extends CallableName>(
  name: K,
  ...args: CallArgs<K>
): Promise<Operations[K]["data"]> {
  const [variables, options = {}] = args;
  const op: OperationInfo<OperationName> = operations[name];
  const head: Record<string, unknown> = {
    operationName: name,
    extensions: { persistedQuery: { version: 1, sha256Hash: op.sha256 } },
  };
  if (options.sendQuery) head["query"] = op.query;
  const body = `${JSON.stringify(head).slice(0, -1)},"variables":${encodeJson(variables ?? {}, op.numericVariables)}}`;
  const send = options.fetch ?? fetch;
  const response = await send(`${options.baseUrl ?? "/api"}/v1/graphql`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json", ...options.headers },
    body,
    signal: options.signal ?? null,
  });
  const text = await response.text();
  let parsed: { data?: unknown; errors?: GraphJinErrorItem[] };
  try {
    parsed = parseJson(text, { data: op.numeric }) as typeof parsed;
  } catch {
    throw new GraphJinError(response.status, [{ message: `not a JSON answer (HTTP ${response.status})` }]);
  }
  if (!response.ok || parsed.errors !== undefined) {
    throw new GraphJinError(response.status, parsed.errors ?? []);
  }
  return parsed.data as Operations[K]["data"];
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const WHOLE_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

function child(spec: NumericSpec | undefined, key: string): NumericSpec | undefined {
  return spec === undefined || spec === 1 ? undefined : spec[key];
}

/** JSON text to a value, keeping the text of the numbers `spec` marks as `Numeric`. */
export function parseJson(text: string, spec?: NumericSpec): unknown {
  let i = 0;
  const fail = (): never => {
    throw new SyntaxError(`invalid JSON at ${i}`);
  };
  const space = () => {
    while (i < text.length && " \t\n\r".includes(text.charAt(i))) i++;
  };
  const token = (re: RegExp): string => {
    re.lastIndex = i;
    const m = re.exec(text);
    if (m === null) return fail();
    i = re.lastIndex;
    return m[0];
  };
  const expect = (c: string) => {
    space();
    if (text.charAt(i) !== c) fail();
    i++;
  };
  const value = (s: NumericSpec | undefined): unknown => {
    space();
    const c = text.charAt(i);
    if (c === "{") {
      i++;
      const o: Record<string, unknown> = {};
      space();
      if (text.charAt(i) === "}") {
        i++;
        return o;
      }
      for (;;) {
        space();
        const k = JSON.parse(token(STRING)) as string;
        expect(":");
        o[k] = value(child(s, k));
        space();
        if (text.charAt(i) === ",") {
          i++;
          continue;
        }
        expect("}");
        return o;
      }
    }
    if (c === "[") {
      i++;
      const a: unknown[] = [];
      space();
      if (text.charAt(i) === "]") {
        i++;
        return a;
      }
      for (;;) {
        a.push(value(s));
        space();
        if (text.charAt(i) === ",") {
          i++;
          continue;
        }
        expect("]");
        return a;
      }
    }
    if (c === '"') return JSON.parse(token(STRING));
    for (const [word, v] of [["true", true], ["false", false], ["null", null]] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    const n = token(NUMBER);
    return s === 1 ? n : Number(n);
  };
  const result = value(spec);
  space();
  if (i !== text.length) fail();
  return result;
}

/** A value to JSON text, writing the `Numeric` strings `spec` marks as JSON numbers. */
export function encodeJson(v: unknown, spec?: NumericSpec): string {
  if (spec === 1 && typeof v === "string") {
    if (!WHOLE_NUMBER.test(v)) throw new TypeError(`${JSON.stringify(v)} is not a number`);
    return v;
  }
  if (v !== null && typeof v === "object") {
    const withJson = v as { toJSON?: () => unknown };
    if (typeof withJson.toJSON === "function") return encodeJson(withJson.toJSON(), spec);
    if (Array.isArray(v)) return `[${v.map((x) => encodeJson(x, spec)).join(",")}]`;
    const parts: string[] = [];
    for (const [k, x] of Object.entries(v)) {
      if (x !== undefined) parts.push(`${JSON.stringify(k)}:${encodeJson(x, child(spec, k))}`);
    }
    return `{${parts.join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}
"#;

/// An object key: bare when it is an identifier, else quoted.
fn key(k: &str) -> String {
    let ident = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if ident { k.to_string() } else { js_string(k) }
}

/// A string literal.
fn js_string(s: &str) -> String {
    // JSON strings are JavaScript strings, except for U+2028/U+2029 in old engines.
    serde_json::to_string(s)
        .unwrap_or_default()
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

fn output_type(w: &Wire) -> String {
    match w {
        Wire::Integer { .. } | Wire::Float => "number".into(),
        Wire::Numeric => "Numeric".into(),
        Wire::Boolean => "boolean".into(),
        Wire::String { .. } => "string".into(),
        Wire::Enum(labels) => labels
            .iter()
            .map(|l| js_string(l))
            .collect::<Vec<_>>()
            .join(" | "),
        Wire::Json => "Json".into(),
        Wire::Array(e) => format!("Array<{}>", output_type(e)),
    }
}

fn input_type(w: &Wire) -> String {
    match w {
        Wire::Numeric => "Numeric | number".into(),
        Wire::Array(e) => format!("Array<{}>", input_type(e)),
        other => output_type(other),
    }
}

fn indent(depth: usize) -> String {
    "  ".repeat(depth)
}

fn node_type(node: &Node<'_>, wire: &WireTypes<'_>, depth: usize) -> String {
    match node {
        Node::Any => "Json".into(),
        Node::Scalar { pg_type, nullable } => {
            let t = output_type(&wire.of(pg_type));
            if *nullable { format!("{t} | null") } else { t }
        }
        Node::Object {
            fields,
            list,
            nullable,
        } => {
            let o = object_type(fields, wire, depth);
            let t = if *list { format!("Array<{o}>") } else { o };
            if *nullable { format!("{t} | null") } else { t }
        }
    }
}

fn object_type(
    fields: &[super::response::Member<'_>],
    wire: &WireTypes<'_>,
    depth: usize,
) -> String {
    let mut s = String::from("{\n");
    for m in fields {
        let optional = if m.always { "" } else { "?" };
        let _ = writeln!(
            s,
            "{}{}{optional}: {};",
            indent(depth + 1),
            key(m.key),
            node_type(&m.node, wire, depth + 1)
        );
    }
    s.push_str(&indent(depth));
    s.push('}');
    s
}

fn input_shape(shape: &InputShape, wire: &WireTypes<'_>, depth: usize) -> String {
    match shape {
        InputShape::Scalar(pg) => input_type(&wire.of(pg)),
        InputShape::Column { pg_type, .. } => input_type(&wire.of(pg_type)),
        InputShape::Any => "Json".into(),
        InputShape::Object { fields, list } => {
            let mut s = String::from("{\n");
            for (k, sub) in fields {
                let _ = writeln!(
                    s,
                    "{}{}?: {} | null;",
                    indent(depth + 1),
                    key(k),
                    input_shape(sub, wire, depth + 1)
                );
            }
            s.push_str(&indent(depth));
            s.push('}');
            if *list { format!("Array<{s}>") } else { s }
        }
    }
}

fn wire_spec(w: &Wire) -> Option<Spec> {
    match w {
        Wire::Numeric => Some(Spec::Leaf),
        Wire::Array(e) => wire_spec(e),
        _ => None,
    }
}

fn numeric_spec(node: &Node<'_>, wire: &WireTypes<'_>) -> Option<Spec> {
    match node {
        Node::Scalar { pg_type, .. } => wire_spec(&wire.of(pg_type)),
        Node::Any => None,
        Node::Object { fields, .. } => {
            let keys: Vec<(String, Spec)> = fields
                .iter()
                .filter_map(|m| numeric_spec(&m.node, wire).map(|s| (m.key.to_string(), s)))
                .collect();
            (!keys.is_empty()).then_some(Spec::Keys(keys))
        }
    }
}

fn input_spec(shape: &InputShape, wire: &WireTypes<'_>) -> Option<Spec> {
    match shape {
        InputShape::Scalar(pg) => wire_spec(&wire.of(pg)),
        InputShape::Column { pg_type, .. } => wire_spec(&wire.of(pg_type)),
        InputShape::Any => None,
        InputShape::Object { fields, .. } => {
            let keys: Vec<(String, Spec)> = fields
                .iter()
                .filter_map(|(k, s)| input_spec(s, wire).map(|s| (k.clone(), s)))
                .collect();
            (!keys.is_empty()).then_some(Spec::Keys(keys))
        }
    }
}

fn variables_spec(vars: &[VariableSpec], wire: &WireTypes<'_>) -> Option<Spec> {
    let keys: Vec<(String, Spec)> = vars
        .iter()
        .filter_map(|v| {
            let s = match &v.input {
                Some(shape) => input_spec(shape, wire),
                None => wire_spec(&wire.of(&v.pg_type)),
            };
            s.map(|s| (v.name.clone(), s))
        })
        .collect();
    (!keys.is_empty()).then_some(Spec::Keys(keys))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_follow_the_rust_structs() {
        let p = crate::tools::test_project(
            "query one($id: ID!, $min: Float) {\n  orders(id: $id, where: { total: { gt: $min } }) {\n    id\n    note\n    total\n    customer {\n      email @remove(ifRole: \"anon\")\n    }\n  }\n}\n",
            "",
        );
        let ops = p.compile().expect("compiles");
        let ts = module(&p, &ops);
        assert!(ts.contains("export interface OneVariables {\n  /** `$id`, used as `bigint`. */\n  id: number;\n"), "{ts}");
        assert!(ts.contains("  min?: Numeric | number | null;\n"), "{ts}");
        assert!(
            ts.contains("export interface OneData {\n  orders: {\n    id: number;\n    note: string | null;\n    total: Numeric;\n    customer: {\n      email?: string | null;\n    };\n  } | null;\n}\n"),
            "{ts}"
        );
        assert!(ts.contains("numeric: { orders: { total: 1 } },"), "{ts}");
        assert!(ts.contains("numericVariables: { min: 1 },"), "{ts}");
        assert_eq!(key("full_name"), "full_name");
        assert_eq!(key("a-b"), "\"a-b\"");
    }
}
