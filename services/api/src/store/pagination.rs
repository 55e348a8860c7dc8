//! Keyset pagination on `(created_at, id)`, newest first. No OFFSET: a cursor
//! names a row's position, so pages stay stable while rows are inserted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::ApiError;

pub const DEFAULT_PAGE_SIZE: i32 = 20;
pub const MAX_PAGE_SIZE: i32 = 100;

/// Postgres' earliest `timestamptz`, 4714-11-24 00:00 BC (Julian day 0), in
/// microseconds since the Unix epoch. Its latest (294276 AD) lies beyond what
/// chrono represents, so chrono bounds that end.
const PG_MIN_TIMESTAMP_MICROS: i64 = -210_866_803_200_000_000;

/// A row's position in a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "k1:{}:{}",
            self.created_at.timestamp_micros(),
            self.id.simple()
        ))
    }

    pub fn decode(text: &str) -> Option<Cursor> {
        if text.len() > 100 {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(text).ok()?;
        let raw = std::str::from_utf8(&raw).ok()?;
        let mut parts = raw.splitn(3, ':');
        if parts.next()? != "k1" {
            return None;
        }
        let micros: i64 = parts.next()?.parse().ok()?;
        let id = Uuid::parse_str(parts.next()?).ok()?;
        // Only a time Postgres can hold: anything else is a forged cursor
        // (BAD_USER_INPUT), not a database error.
        if micros < PG_MIN_TIMESTAMP_MICROS {
            return None;
        }
        Some(Cursor {
            created_at: DateTime::from_timestamp_micros(micros)?,
            id,
        })
    }
}

/// Rows that can be paginated.
pub trait Keyed {
    fn cursor(&self) -> Cursor;
}

/// Validated Relay connection arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// `last/before`: walk towards the start of the list.
    pub backward: bool,
    pub limit: i64,
    pub cursor: Option<Cursor>,
}

impl PageRequest {
    pub fn from_args(
        first: Option<i32>,
        after: Option<&str>,
        last: Option<i32>,
        before: Option<&str>,
    ) -> Result<Self, ApiError> {
        let invalid = |msg: &str| Err(ApiError::InvalidInput(msg.to_string()));
        let decode = |text: &str, arg: &str| {
            Cursor::decode(text)
                .ok_or_else(|| ApiError::InvalidInput(format!("`{arg}` is not a valid cursor")))
        };
        let check = |n: i32, arg: &str| {
            if (0..=MAX_PAGE_SIZE).contains(&n) {
                Ok(i64::from(n))
            } else {
                Err(ApiError::InvalidInput(format!(
                    "`{arg}` must be between 0 and {MAX_PAGE_SIZE}"
                )))
            }
        };
        let backward = last.is_some() || before.is_some();
        if backward && (first.is_some() || after.is_some()) {
            return invalid("use either first/after or last/before, not both");
        }
        if backward {
            Ok(PageRequest {
                backward: true,
                limit: check(last.unwrap_or(DEFAULT_PAGE_SIZE), "last")?,
                cursor: before.map(|b| decode(b, "before")).transpose()?,
            })
        } else {
            Ok(PageRequest {
                backward: false,
                limit: check(first.unwrap_or(DEFAULT_PAGE_SIZE), "first")?,
                cursor: after.map(|a| decode(a, "after")).transpose()?,
            })
        }
    }

    /// Upper bound on the rows a page returns (for complexity accounting).
    pub fn size_hint(first: Option<i32>, last: Option<i32>) -> usize {
        first
            .or(last)
            .unwrap_or(DEFAULT_PAGE_SIZE)
            .clamp(0, MAX_PAGE_SIZE) as usize
    }
}

/// One page, in list order (newest first).
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            rows: self.rows.into_iter().map(f).collect(),
            has_next_page: self.has_next_page,
            has_previous_page: self.has_previous_page,
        }
    }
}

/// Where the SQL of a page request goes: the row filter (`org_id = $1` and any
/// extra equality filters) is built by the caller; this adds the keyset part.
pub struct KeysetSql {
    pub page: String,
    /// Whether any row lies beyond the cursor on the other side (for
    /// `hasPreviousPage` going forward, `hasNextPage` going backward).
    pub beyond_cursor: Option<String>,
}

/// `columns`/`table`/`filter` are static SQL written in this crate, never input.
/// Parameters: the filter's, then (cursor created_at, cursor id), then limit.
pub fn keyset_sql(
    columns: &str,
    table: &str,
    filter: &str,
    filter_params: usize,
    req: &PageRequest,
) -> KeysetSql {
    let (order, toward, away) = if req.backward {
        ("ASC", ">", "<")
    } else {
        ("DESC", "<", ">")
    };
    let (ts, id) = (filter_params + 1, filter_params + 2);
    match req.cursor {
        Some(_) => KeysetSql {
            page: format!(
                "SELECT {columns} FROM {table} WHERE {filter} AND (created_at, id) {toward} (${ts}, ${id}) \
                 ORDER BY created_at {order}, id {order} LIMIT ${}",
                filter_params + 3
            ),
            beyond_cursor: Some(format!(
                "SELECT EXISTS (SELECT 1 FROM {table} WHERE {filter} AND (created_at, id) {away} (${ts}, ${id}))"
            )),
        },
        None => KeysetSql {
            page: format!(
                "SELECT {columns} FROM {table} WHERE {filter} ORDER BY created_at {order}, id {order} LIMIT ${}",
                filter_params + 1
            ),
            beyond_cursor: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = Cursor {
            created_at: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            id: Uuid::new_v4(),
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        for bad in ["", "xyz", "azE6MTox", &"a".repeat(200)] {
            assert_eq!(Cursor::decode(bad), None);
        }
        let forged =
            |micros: i64| URL_SAFE_NO_PAD.encode(format!("k1:{micros}:{}", Uuid::nil().simple()));
        // Postgres' range ends at Julian day 0; chrono's reaches further.
        assert!(Cursor::decode(&forged(PG_MIN_TIMESTAMP_MICROS)).is_some());
        for out_of_range in [
            PG_MIN_TIMESTAMP_MICROS - 1,
            -262_000_000_000_000_000,
            i64::MIN,
            i64::MAX,
        ] {
            assert_eq!(
                Cursor::decode(&forged(out_of_range)),
                None,
                "{out_of_range}"
            );
        }
    }

    #[test]
    fn page_arguments_are_validated() {
        let c = Cursor {
            created_at: Utc::now(),
            id: Uuid::nil(),
        }
        .encode();
        let fwd = PageRequest::from_args(Some(5), Some(&c), None, None).unwrap();
        assert!(!fwd.backward && fwd.limit == 5 && fwd.cursor.is_some());
        let back = PageRequest::from_args(None, None, Some(3), Some(&c)).unwrap();
        assert!(back.backward && back.limit == 3);
        assert_eq!(
            PageRequest::from_args(None, None, None, None)
                .unwrap()
                .limit,
            20
        );
        assert!(PageRequest::from_args(Some(1), None, Some(1), None).is_err());
        assert!(PageRequest::from_args(Some(101), None, None, None).is_err());
        assert!(PageRequest::from_args(Some(-1), None, None, None).is_err());
        assert!(PageRequest::from_args(Some(1), Some("nope"), None, None).is_err());
        assert!(PageRequest::from_args(Some(1), None, None, Some(&c)).is_err());
    }
}
