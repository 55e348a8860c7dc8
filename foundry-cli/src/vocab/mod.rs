//! The vocabulary every layer shares: property values, property schemas and
//! the scope a resource belongs to. A leaf: it imports nothing of the crate,
//! so that the layers above it can import it without a cycle (see
//! ARCHITECTURE.md, "Layers").

mod schema;
mod scope;
mod value;

pub use schema::{
    PropError, PropSpec, Schema, Ty, opt_strs, problems as schema_problems, prop_bool, prop_int,
    prop_str, prop_strs,
};
pub use scope::{Scope, fnv1a};
pub use value::{CREATE_ONLY, CREATE_ONLY_GENERATE, Props, Value, is_compared, split_ref};
