//! Finding PEM blocks in a key file: the `-----BEGIN LABEL-----` … `-----END LABEL-----`
//! frame, with any text around and between blocks skipped, as Go's `encoding/pem` (which
//! GraphJin reads key files with) does. The body's base64 is read whitespace-insensitively,
//! so a key re-wrapped at another line width, or put on one line, still reads.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::KeyError;

const BEGIN: &str = "-----BEGIN ";
const DASHES: &str = "-----";

/// One PEM block: its label and its (still encoded) body.
pub(super) struct Block<'a> {
    /// The label between `BEGIN ` and the dashes, trimmed: `PUBLIC KEY`, `CERTIFICATE`, …
    pub(super) label: &'a str,
    body: &'a str,
}

impl Block<'_> {
    /// The DER bytes the block carries.
    pub(super) fn decode(&self) -> Result<Vec<u8>, KeyError> {
        let compact: String = self.body.chars().filter(|c| !c.is_whitespace()).collect();
        STANDARD
            .decode(compact.as_bytes())
            .map_err(|_| KeyError::Base64 {
                label: self.label.to_owned(),
            })
    }
}

/// The PEM blocks of `text`, in order; a block whose frame is broken ends the walk with
/// an error.
pub(super) fn blocks(text: &str) -> Blocks<'_> {
    Blocks { rest: Some(text) }
}

/// Iterator of [`blocks`].
pub(super) struct Blocks<'a> {
    /// `None` once an error has been returned.
    rest: Option<&'a str>,
}

impl<'a> Iterator for Blocks<'a> {
    type Item = Result<Block<'a>, KeyError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.rest?;
        let start = rest.find(BEGIN)?;
        let after = &rest[start + BEGIN.len()..];
        let Some(label_end) = after.find(DASHES) else {
            self.rest = None;
            return Some(Err(KeyError::UnclosedHeader));
        };
        let label = after[..label_end].trim();
        let body_start = &after[label_end + DASHES.len()..];
        let end_marker = format!("-----END {label}-----");
        let Some(body_end) = body_start.find(&end_marker) else {
            self.rest = None;
            return Some(Err(KeyError::NoEndLine {
                label: label.to_owned(),
            }));
        };
        self.rest = Some(&body_start[body_end + end_marker.len()..]);
        Some(Ok(Block {
            label,
            body: &body_start[..body_end],
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_blocks_among_other_text() {
        let text = "comment\n-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n\
                    -----BEGIN  PUBLIC KEY -----\nAAEC\n  AwQ=\n-----END PUBLIC KEY-----\ntrailer";
        let found: Vec<_> = blocks(text).map(|b| b.expect("block")).collect();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].label, "EC PARAMETERS");
        assert_eq!(found[1].label, "PUBLIC KEY");
        assert_eq!(found[1].decode().expect("base64"), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn broken_frames_are_errors() {
        let mut it = blocks("-----BEGIN PUBLIC KEY\nAAAA");
        assert!(matches!(it.next(), Some(Err(KeyError::UnclosedHeader))));
        assert!(it.next().is_none());
        let mut it = blocks("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END CERTIFICATE-----");
        assert!(matches!(it.next(), Some(Err(KeyError::NoEndLine { .. }))));
        let block = blocks("-----BEGIN X-----\n!!\n-----END X-----")
            .next()
            .expect("a block")
            .expect("framed");
        assert!(matches!(block.decode(), Err(KeyError::Base64 { .. })));
        assert!(blocks("no pem here").next().is_none());
    }
}
