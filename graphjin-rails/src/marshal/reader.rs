//! The Marshal parser: reads into a flat arena (object links share nodes, so reading is linear
//! in the input), then builds the [`Value`] tree within a budget.

use super::{Encoding, Limits, MarshalError, Value};

/// Longest encoding name accepted (`encoding` instance variable); real names are short.
const MAX_ENCODING_NAME: usize = 64;
/// Units the result may use beyond `link_expansion * input length`.
const BUDGET_SLACK: usize = 16 * 1024;

type Result<T> = std::result::Result<T, MarshalError>;

enum Node {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str {
        start: usize,
        end: usize,
        encoding: Encoding,
    },
    Sym(usize),
    Array(Vec<usize>),
    Hash(Vec<(usize, usize)>, Option<usize>),
    /// An object of an allowed class: its class symbol and instance variables.
    Object(usize, Vec<(usize, usize)>),
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    limits: Limits,
    /// Class names whose plain objects (`o`) may be read; every other object is refused.
    allowed_classes: &'a [&'a str],
    nodes: Vec<Node>,
    /// Symbol table: byte ranges of the input.
    symbols: Vec<(usize, usize)>,
    /// Object table: node id and whether the object is complete (links to an incomplete one
    /// are cycles).
    objects: Vec<(usize, bool)>,
}

pub(super) fn load(data: &[u8], limits: Limits, allowed_classes: &[&str]) -> Result<Value> {
    if data.len() > limits.max_input {
        return Err(MarshalError::TooLarge {
            len: data.len(),
            limit: limits.max_input,
        });
    }
    match data {
        [4, 8, ..] => {}
        [major, minor, ..] => {
            return Err(MarshalError::BadVersion {
                major: *major,
                minor: *minor,
            });
        }
        _ => return Err(MarshalError::Truncated { offset: data.len() }),
    }
    let mut r = Reader {
        data,
        pos: 2,
        limits,
        allowed_classes,
        nodes: Vec::new(),
        symbols: Vec::new(),
        objects: Vec::new(),
    };
    let root = r.value(0)?;
    let limit = limits
        .link_expansion
        .saturating_mul(data.len())
        .saturating_add(BUDGET_SLACK);
    let mut budget = Budget { left: limit, limit };
    r.build(root, 0, &mut budget)
}

struct Budget {
    left: usize,
    limit: usize,
}

impl Budget {
    fn spend(&mut self, units: usize) -> Result<()> {
        match self.left.checked_sub(units) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => Err(MarshalError::TooExpanded { limit: self.limit }),
        }
    }
}

fn type_name(byte: u8) -> &'static str {
    match byte {
        b'o' => "object",
        b'C' => "user class (subclass of String, Array, Hash or Regexp)",
        b'u' => "user-defined _dump data",
        b'U' => "user-defined marshal_load data",
        b'S' => "struct",
        b'c' => "class",
        b'm' => "module",
        b'M' => "old-style class or module",
        b'e' => "object extended with a module",
        b'/' => "regexp",
        b'd' => "data object",
        _ => "unknown type",
    }
}

impl Reader<'_> {
    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    fn byte(&mut self) -> Result<u8> {
        let b = *self
            .data
            .get(self.pos)
            .ok_or(MarshalError::Truncated { offset: self.pos })?;
        self.pos += 1;
        Ok(b)
    }

    /// Ruby's `r_long`: every fixnum / length encoding.
    fn long(&mut self) -> Result<i64> {
        let c = self.byte()? as i8;
        Ok(match c {
            0 => 0,
            1..=4 => {
                let mut x: i64 = 0;
                for i in 0..c as u32 {
                    x |= i64::from(self.byte()?) << (8 * i);
                }
                x
            }
            -4..=-1 => {
                let mut x: i64 = -1;
                for i in 0..u32::from(c.unsigned_abs()) {
                    x &= !(0xff << (8 * i));
                    x |= i64::from(self.byte()?) << (8 * i);
                }
                x
            }
            5..=127 => i64::from(c) - 5,
            _ => i64::from(c) + 5,
        })
    }

    /// A count of items, each taking at least `min_bytes` of the remaining input.
    fn count(&mut self, min_bytes: usize) -> Result<usize> {
        let offset = self.pos;
        let n = self.long()?;
        let n = usize::try_from(n).map_err(|_| MarshalError::Invalid {
            offset,
            what: "negative length",
        })?;
        if n.saturating_mul(min_bytes) > self.remaining() {
            return Err(MarshalError::Invalid {
                offset,
                what: "length is larger than the remaining data",
            });
        }
        Ok(n)
    }

    /// A length-prefixed byte string: its range in the input.
    fn bytes(&mut self) -> Result<(usize, usize)> {
        let n = self.count(1)?;
        let start = self.pos;
        self.pos += n;
        Ok((start, self.pos))
    }

    /// An index into a table (symbol or object link).
    fn index(&mut self) -> Result<usize> {
        let offset = self.pos;
        usize::try_from(self.long()?).map_err(|_| MarshalError::Invalid {
            offset,
            what: "negative index",
        })
    }

    fn push(&mut self, node: Node) -> usize {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// Registers an object (before its contents, as Ruby numbers them) with a placeholder node.
    fn begin_object(&mut self) -> (usize, usize) {
        let id = self.push(Node::Nil);
        self.objects.push((id, false));
        (id, self.objects.len() - 1)
    }

    fn end_object(&mut self, (id, obj): (usize, usize), node: Node) -> usize {
        self.nodes[id] = node;
        self.objects[obj].1 = true;
        id
    }

    /// A symbol in a position where only a symbol may stand (instance variable names).
    fn symbol(&mut self, depth: usize) -> Result<usize> {
        self.check_depth(depth)?;
        let offset = self.pos;
        match self.byte()? {
            b':' => self.symbol_body(),
            b';' => self.symlink(),
            b'I' => {
                if self.byte()? != b':' {
                    return Err(MarshalError::Invalid {
                        offset,
                        what: "expected a symbol",
                    });
                }
                let sym = self.symbol_body()?;
                self.ivars(None, depth + 1)?;
                Ok(sym)
            }
            _ => Err(MarshalError::Invalid {
                offset,
                what: "expected a symbol",
            }),
        }
    }

    fn symbol_body(&mut self) -> Result<usize> {
        let range = self.bytes()?;
        self.symbols.push(range);
        Ok(self.symbols.len() - 1)
    }

    fn symlink(&mut self) -> Result<usize> {
        let offset = self.pos;
        let i = self.index()?;
        if i >= self.symbols.len() {
            return Err(MarshalError::Invalid {
                offset,
                what: "symbol link to an unknown symbol",
            });
        }
        Ok(i)
    }

    fn symbol_bytes(&self, sym: usize) -> &[u8] {
        let (s, e) = self.symbols[sym];
        &self.data[s..e]
    }

    fn check_depth(&self, depth: usize) -> Result<()> {
        if depth > self.limits.max_depth {
            Err(MarshalError::TooDeep {
                limit: self.limits.max_depth,
            })
        } else {
            Ok(())
        }
    }

    /// Instance variables after an `I` object; sets the encoding of the string `target`.
    fn ivars(&mut self, target: Option<usize>, depth: usize) -> Result<()> {
        let n = self.count(2)?;
        for _ in 0..n {
            let key = self.symbol(depth)?;
            let value_at = self.pos;
            let value = self.value(depth)?;
            let encoding = match (self.symbol_bytes(key), &self.nodes[value]) {
                (b"E", Node::Bool(true)) => Some(Encoding::Utf8),
                (b"E", Node::Bool(false)) => Some(Encoding::UsAscii),
                (b"encoding", Node::Str { start, end, .. }) => {
                    if end - start > MAX_ENCODING_NAME {
                        return Err(MarshalError::Invalid {
                            offset: value_at,
                            what: "encoding name too long",
                        });
                    }
                    Some(Encoding::Other(
                        String::from_utf8_lossy(&self.data[*start..*end]).into_owned(),
                    ))
                }
                _ => None,
            };
            if let (Some(enc), Some(t)) = (encoding, target)
                && let Node::Str { encoding, .. } = &mut self.nodes[t]
            {
                *encoding = enc;
            }
        }
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<usize> {
        self.check_depth(depth)?;
        let offset = self.pos;
        let t = self.byte()?;
        match t {
            b'0' => Ok(self.push(Node::Nil)),
            b'T' => Ok(self.push(Node::Bool(true))),
            b'F' => Ok(self.push(Node::Bool(false))),
            b'i' => {
                let v = self.long()?;
                Ok(self.push(Node::Int(v)))
            }
            b':' => {
                let s = self.symbol_body()?;
                Ok(self.push(Node::Sym(s)))
            }
            b';' => {
                let s = self.symlink()?;
                Ok(self.push(Node::Sym(s)))
            }
            b'"' => {
                let obj = self.begin_object();
                let (start, end) = self.bytes()?;
                let node = Node::Str {
                    start,
                    end,
                    encoding: Encoding::Binary,
                };
                Ok(self.end_object(obj, node))
            }
            b'f' => {
                let obj = self.begin_object();
                let (start, end) = self.bytes()?;
                let x = parse_float(&self.data[start..end]).ok_or(MarshalError::Invalid {
                    offset,
                    what: "malformed float",
                })?;
                Ok(self.end_object(obj, Node::Float(x)))
            }
            b'l' => {
                let obj = self.begin_object();
                let x = self.bignum(offset)?;
                Ok(self.end_object(obj, Node::Int(x)))
            }
            b'[' => {
                let obj = self.begin_object();
                let n = self.count(1)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.value(depth + 1)?);
                }
                Ok(self.end_object(obj, Node::Array(items)))
            }
            b'{' | b'}' => {
                let obj = self.begin_object();
                let n = self.count(2)?;
                let mut entries = Vec::with_capacity(n);
                for _ in 0..n {
                    let k = self.value(depth + 1)?;
                    let v = self.value(depth + 1)?;
                    entries.push((k, v));
                }
                let default = if t == b'}' {
                    Some(self.value(depth + 1)?)
                } else {
                    None
                };
                Ok(self.end_object(obj, Node::Hash(entries, default)))
            }
            b'@' => {
                let i = self.index()?;
                match self.objects.get(i) {
                    Some(&(id, true)) => Ok(id),
                    Some(&(_, false)) => Err(MarshalError::Cyclic { offset }),
                    None => Err(MarshalError::Invalid {
                        offset,
                        what: "object link to an unknown object",
                    }),
                }
            }
            b'o' => {
                let obj = self.begin_object();
                let class = self.symbol(depth + 1)?;
                let name = self.symbol_bytes(class);
                if !self.allowed_classes.iter().any(|c| c.as_bytes() == name) {
                    return Err(MarshalError::Unsupported {
                        byte: t,
                        name: type_name(t),
                        offset,
                    });
                }
                let n = self.count(2)?;
                let mut ivars = Vec::with_capacity(n);
                for _ in 0..n {
                    let key = self.symbol(depth + 1)?;
                    ivars.push((key, self.value(depth + 1)?));
                }
                Ok(self.end_object(obj, Node::Object(class, ivars)))
            }
            b'I' => {
                let inner = self.value(depth + 1)?;
                self.ivars(Some(inner), depth + 1)?;
                Ok(inner)
            }
            other => Err(MarshalError::Unsupported {
                byte: other,
                name: type_name(other),
                offset,
            }),
        }
    }

    fn bignum(&mut self, offset: usize) -> Result<i64> {
        let negative = match self.byte()? {
            b'+' => false,
            b'-' => true,
            _ => {
                return Err(MarshalError::Invalid {
                    offset,
                    what: "bignum sign is not + or -",
                });
            }
        };
        let shorts = self.count(2)?;
        let mut magnitude: u64 = 0;
        for i in 0..shorts * 2 {
            let b = self.byte()?;
            if i >= 8 {
                if b != 0 {
                    return Err(MarshalError::BignumTooLarge { offset });
                }
            } else {
                magnitude |= u64::from(b) << (8 * i);
            }
        }
        let value = if negative {
            0i64.checked_sub_unsigned(magnitude)
        } else {
            i64::try_from(magnitude).ok()
        };
        value.ok_or(MarshalError::BignumTooLarge { offset })
    }

    fn build(&self, id: usize, depth: usize, budget: &mut Budget) -> Result<Value> {
        self.check_depth(depth)?;
        budget.spend(1)?;
        Ok(match &self.nodes[id] {
            Node::Nil => Value::Nil,
            Node::Bool(b) => Value::Bool(*b),
            Node::Int(i) => Value::Int(*i),
            Node::Float(x) => Value::Float(*x),
            Node::Str {
                start,
                end,
                encoding,
            } => {
                budget.spend(end - start)?;
                Value::String {
                    bytes: self.data[*start..*end].to_vec(),
                    encoding: encoding.clone(),
                }
            }
            Node::Sym(s) => {
                let bytes = self.symbol_bytes(*s);
                budget.spend(bytes.len())?;
                Value::Symbol(String::from_utf8_lossy(bytes).into_owned())
            }
            Node::Array(items) => {
                budget.spend(items.len())?;
                let mut out = Vec::with_capacity(items.len());
                for &item in items {
                    out.push(self.build(item, depth + 1, budget)?);
                }
                Value::Array(out)
            }
            Node::Hash(entries, default) => {
                budget.spend(entries.len().saturating_mul(2))?;
                let mut out = Vec::with_capacity(entries.len());
                for &(k, v) in entries {
                    out.push((
                        self.build(k, depth + 1, budget)?,
                        self.build(v, depth + 1, budget)?,
                    ));
                }
                let default = match default {
                    Some(d) => Some(Box::new(self.build(*d, depth + 1, budget)?)),
                    None => None,
                };
                Value::Hash {
                    entries: out,
                    default,
                }
            }
            Node::Object(class, ivars) => {
                budget.spend(ivars.len().saturating_mul(2))?;
                let class = String::from_utf8_lossy(self.symbol_bytes(*class)).into_owned();
                let mut out = Vec::with_capacity(ivars.len());
                for &(k, v) in ivars {
                    let name = String::from_utf8_lossy(self.symbol_bytes(k)).into_owned();
                    out.push((name, self.build(v, depth + 1, budget)?));
                }
                Value::Object { class, ivars: out }
            }
        })
    }
}

/// Ruby writes floats as `%.17g` text, or `nan` / `inf` / `-inf`; very old versions appended
/// mantissa bytes after a NUL, which are ignored.
fn parse_float(bytes: &[u8]) -> Option<f64> {
    let text = bytes.split(|&b| b == 0).next().unwrap_or_default();
    match text {
        b"nan" => Some(f64::NAN),
        b"inf" => Some(f64::INFINITY),
        b"-inf" => Some(f64::NEG_INFINITY),
        _ => {
            let s = std::str::from_utf8(text).ok()?;
            if s.is_empty() || !s.bytes().all(|b| b"0123456789+-.eE".contains(&b)) {
                return None;
            }
            s.parse().ok()
        }
    }
}
