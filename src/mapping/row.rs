//! Rows: the values one record writes, in its target's column order.

use super::target::Target;

/// The text Bulk API 2.0 reads as "set this field to null".
pub const CSV_NULL: &str = "#N/A";

/// One cell of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// Left empty: Salesforce keeps the field's current value.
    Keep,
    /// Written as `#N/A`: Salesforce clears the field.
    Clear,
    Text(String),
}

impl Cell {
    /// A value that may be absent; absent values leave the field as it is.
    pub fn keep_if_none(value: Option<impl Into<String>>) -> Cell {
        value.map_or(Cell::Keep, |v| Cell::Text(v.into()))
    }

    /// A value the integration owns: absent in Shopify means cleared in Salesforce.
    pub fn clear_if_none(value: Option<impl Into<String>>) -> Cell {
        value.map_or(Cell::Clear, |v| Cell::Text(v.into()))
    }

    pub fn bool(value: bool) -> Cell {
        Cell::Text(if value { "true" } else { "false" }.to_string())
    }

    /// The CSV text of the cell.
    pub fn as_csv(&self) -> &str {
        match self {
            Cell::Keep => "",
            Cell::Clear => CSV_NULL,
            Cell::Text(t) => t,
        }
    }
}

/// One record for one target. `cells[0]` is the external ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub target: Target,
    pub cells: Vec<Cell>,
}

impl Row {
    pub fn new(target: Target, cells: Vec<Cell>) -> Row {
        debug_assert_eq!(
            cells.len(),
            target.spec().columns.len(),
            "{} row has the wrong number of cells",
            target.name()
        );
        Row { target, cells }
    }

    /// The external ID value.
    pub fn key(&self) -> &str {
        self.cells[0].as_csv()
    }

    /// Values of the relationship columns, with the parent target each points at.
    pub fn parent_keys(&self) -> impl Iterator<Item = (Target, &str)> {
        self.target
            .spec()
            .parents
            .iter()
            .map(|p| (p.parent, self.cells[p.column].as_csv()))
            .filter(|(_, key)| !key.is_empty() && *key != CSV_NULL)
    }
}
