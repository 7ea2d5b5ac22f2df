//! Subscription batches: one statement that answers a subscription for many subscribers,
//! made from the root of the subscription's own statement by changing its `FROM`.

use super::sql::{Expr, From, Item, Select, Source};

/// The batch form of a subscription's root select (compiled with parameters read from the
/// batch's columns, `__b."pK"`): the same JSON per row of
/// `unnest($1::text[], ..., $(n+1)::text[]) AS __b("__sub", "p1", ..., "pn")`, with the
/// subscriber's id first as `sub`. Paged root fields, joined to the root's one-row `FROM`,
/// join the batch instead (they read its parameters).
pub(super) fn batch_select(root: Select, params: usize) -> Select {
    let arrays: Vec<String> = (1..=params + 1).map(|i| format!("${i}::text[]")).collect();
    let mut columns = vec!["\"__sub\"".to_string()];
    columns.extend((1..=params).map(|i| format!("\"p{i}\"")));
    let mut items = vec![Item::named(Expr::raw("__b.\"__sub\""), "sub")];
    items.extend(root.items);
    Select {
        items,
        from: Some(From {
            source: Source::Named {
                relation: format!("unnest({})", arrays.join(", ")),
                alias: "__b".into(),
                columns,
            },
            joins: root.from.map(|f| f.joins).unwrap_or_default(),
        }),
        ..root
    }
}
