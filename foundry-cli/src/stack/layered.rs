//! A section's base values with one environment's overlay on top, remembering
//! where each value came from so that errors point at the line that set it.

use super::Locator;

pub struct Layered<'a, S> {
    pub base: &'a S,
    pub over: &'a S,
    pub env: &'a str,
    /// The section's key: `network`, `database`, ...
    pub section: &'static str,
}

impl<'a, S> Layered<'a, S> {
    /// The overlay's value if it sets one, else the base's, with its key path.
    pub fn pick<T: ?Sized>(
        &self,
        get: impl Fn(&'a S) -> Option<&'a T>,
        key: &[&str],
    ) -> Option<(&'a T, Vec<String>)> {
        let (value, mut path) = match get(self.over) {
            Some(v) => (
                v,
                vec![
                    "env".to_string(),
                    self.env.to_string(),
                    self.section.to_string(),
                ],
            ),
            None => (get(self.base)?, vec![self.section.to_string()]),
        };
        path.extend(key.iter().map(|k| k.to_string()));
        Some((value, path))
    }

    /// Like `pick` for `Copy` values, with a default and the path where the
    /// value would be set (the base section's) when it is not.
    pub fn value<T: Copy + 'a>(
        &self,
        get: impl Fn(&'a S) -> Option<&'a T>,
        key: &str,
        default: T,
    ) -> (T, Vec<String>) {
        match self.pick(get, &[key]) {
            Some((v, path)) => (*v, path),
            None => (default, vec![self.section.to_string(), key.to_string()]),
        }
    }
}

pub fn span(locator: &Locator, path: &[String]) -> Option<std::ops::Range<usize>> {
    let parts: Vec<&str> = path.iter().map(String::as_str).collect();
    locator.span(&parts)
}
