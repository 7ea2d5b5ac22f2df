//! The shapes of the JSON variables that carry a mutation's data, for typed `Variables`.

use std::collections::HashMap;

/// The shape of the data a mutation writes, for typed `Variables`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputShape {
    /// A column value of this PostgreSQL type.
    Scalar(String),
    /// A value of column `column` (`table.column`), of PostgreSQL type `pg_type`.
    Column {
        /// The column's type.
        pg_type: String,
        /// `table.column`, for per-column Rust types.
        column: String,
    },
    /// An object (or list of objects) with these keys.
    Object {
        /// Keys in order.
        fields: Vec<(String, InputShape)>,
        /// A list of such objects.
        list: bool,
    },
    /// Anything (`connect` filters, `where` objects).
    Any,
}

impl InputShape {
    /// Merges the shapes of two uses of the same variable.
    pub fn merge(&self, other: &InputShape) -> InputShape {
        if self == other {
            self.clone()
        } else {
            InputShape::Any
        }
    }
}

/// Variable name -> the shape of its data, gathered while a mutation compiles.
pub(super) type Inputs = HashMap<String, InputShape>;
