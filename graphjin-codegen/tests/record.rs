//! Recording into allow.list: concurrent recorders never lose an entry, and hand-written
//! entries, comments and formatting stay byte for byte.

use std::sync::Arc;

use graphjin_codegen::allowlist;
use graphjin_codegen::record::{Recorded, Recorder};

const HAND_WRITTEN: &str = "# Hand-written header comment, kept as is.

#   A comment with odd spacing,
#and no space after the hash.
query   aaaHandWritten{ products( limit:3 ){ id
      name } }

# Another one, between where recorded entries will land.
query mmmHandWritten {
  users { id }   # trailing comment
}

# Last hand-written entry.
query zzzHandWritten {
  categories { name }
}
";

fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("gj-record-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("allow.list");
    std::fs::write(&path, text).unwrap();
    path
}

fn hand_written_entries() -> Vec<String> {
    let list = allowlist::parse(HAND_WRITTEN.as_bytes()).unwrap();
    list.operations()
        .map(|o| HAND_WRITTEN[o.span.clone()].to_string())
        .collect()
}

#[test]
fn fifty_operations_from_eight_threads() {
    let path = temp_file("concurrent", HAND_WRITTEN);
    let recorder = Arc::new(Recorder::new(&path));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let recorder = recorder.clone();
            std::thread::spawn(move || {
                for i in (t..50).step_by(8) {
                    let query = format!("query rec{i:02} {{ products(where: {{ id: {{ gt: $min }} }}, limit: {i}) {{ id }} }}");
                    let vars = serde_json::json!({ "min": i });
                    assert_eq!(recorder.record(&query, Some(&vars)).expect("records"), Recorded::Added);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let list = allowlist::parse(text.as_bytes()).expect("the file still parses");
    for i in 0..50 {
        let name = format!("rec{i:02}");
        assert_eq!(
            list.operations().filter(|o| o.name == name).count(),
            1,
            "{name} once"
        );
        let entry = list.find(&name).unwrap();
        assert_eq!(
            entry
                .variables
                .as_deref()
                .map(|v| v.replace(char::is_whitespace, "")),
            Some("{\"min\":0}".to_string())
        );
    }
    assert_eq!(list.operations().count(), 53);
    for entry in hand_written_entries() {
        assert!(
            text.contains(&entry),
            "hand-written entry changed:\n{entry}"
        );
    }
    assert!(text.starts_with("# Hand-written header comment, kept as is.\n"));
    // Sorted placement: recorded names land between mmm… and zzz….
    let pos = |n: &str| text.find(n).unwrap();
    assert!(pos("mmmHandWritten") < pos("rec00") && pos("rec49") < pos("zzzHandWritten"));
}

#[test]
fn a_changed_operation_replaces_only_its_entry() {
    let path = temp_file("replace", HAND_WRITTEN);
    let recorder = Recorder::new(&path);
    let before = std::fs::read_to_string(&path).unwrap();
    let changed = "query mmmHandWritten {\n  users { id email }\n}";
    assert_eq!(recorder.record(changed, None).unwrap(), Recorded::Replaced);
    let after = std::fs::read_to_string(&path).unwrap();
    // Its comment is kept; its text is the new one; everything else is byte-identical.
    let old_entry = "# Another one, between where recorded entries will land.\nquery mmmHandWritten {\n  users { id }   # trailing comment\n}";
    let new_entry = "# Another one, between where recorded entries will land.\nquery mmmHandWritten {\n  users { id email }\n}";
    assert!(before.contains(old_entry));
    assert_eq!(after, before.replacen(old_entry, new_entry, 1));
}

#[test]
fn the_same_operation_again_writes_nothing_and_anonymous_ones_are_not_recorded() {
    let path = temp_file("same", HAND_WRITTEN);
    let recorder = Recorder::new(&path);
    let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
    let same = "# other comments and layout\nquery zzzHandWritten { categories { name } }";
    assert_eq!(recorder.record(same, None).unwrap(), Recorded::Unchanged);
    assert_eq!(
        recorder.record("{ users { id } }", None).unwrap(),
        Recorded::Anonymous
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), HAND_WRITTEN);
    assert_eq!(
        std::fs::metadata(&path).unwrap().modified().unwrap(),
        modified
    );
    assert!(recorder.record("query broken {", None).is_err());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), HAND_WRITTEN);
}

#[test]
fn the_first_operation_goes_into_a_new_file() {
    let path = temp_file("new", "");
    std::fs::remove_file(&path).unwrap();
    let recorder = Recorder::new(&path);
    assert_eq!(
        recorder
            .record("query first { users { id } }", None)
            .unwrap(),
        Recorded::Added
    );
    let list = allowlist::parse(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(list.operations().count(), 1);
}
