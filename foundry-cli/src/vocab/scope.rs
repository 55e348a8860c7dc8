//! Which stack and environment a resource belongs to: its tags and names.

/// The stack and environment whose resources an operation may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub stack: String,
    pub env: String,
}

impl Scope {
    pub const STACK_TAG: &'static str = "foundry:stack";
    pub const ENV_TAG: &'static str = "foundry:env";
    pub const ID_TAG: &'static str = "foundry:id";

    pub fn new(stack: impl Into<String>, env: impl Into<String>) -> Self {
        Self {
            stack: stack.into(),
            env: env.into(),
        }
    }

    /// `acme-dev-vpc`: the `Name` tag and the base of any AWS-side name.
    pub fn name(&self, id: &str) -> String {
        format!("{}-{}-{id}", self.stack, self.env)
    }

    /// `name(id)` for APIs with short names (App Runner's 32 and 40, load
    /// balancers' and target groups' 32): the whole name when it fits in
    /// `max` characters, otherwise its first `max - 9` characters, `-` and 8
    /// hex digits of a stable hash (FNV-1a) of the whole name, so a long
    /// stack or environment name still gives one name per resource, the
    /// same on every run. Characters outside `[A-Za-z0-9-]` and `also` become
    /// `-` (App Runner also takes `_`; load balancers do not).
    pub fn short_name(&self, id: &str, max: usize, also: &[char]) -> String {
        let full: String = self
            .name(id)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || also.contains(&c) {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        if full.len() <= max {
            return full;
        }
        format!("{}-{:08x}", &full[..max - 9], fnv1a(&full) as u32)
    }

    /// What every name [`Scope::short_name`] gives with this `max` starts
    /// with: `<stack>-<env>-`, or the part of it a shortened name keeps.
    pub fn short_name_prefix(&self, max: usize) -> String {
        let mut prefix = self.name("");
        prefix.truncate(max - 9);
        prefix
    }

    /// [`Scope::tags`] as the map the JSON APIs take (CloudWatch Logs,
    /// Application Auto Scaling).
    pub fn tag_map(&self, id: &str) -> std::collections::HashMap<String, String> {
        self.tags(id)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }

    pub fn tags(&self, id: &str) -> [(&'static str, String); 4] {
        [
            (Self::STACK_TAG, self.stack.clone()),
            (Self::ENV_TAG, self.env.clone()),
            (Self::ID_TAG, id.to_string()),
            ("Name", self.name(id)),
        ]
    }

    /// The logical id in a deterministic name `<stack>-<env>-<id>`, for types
    /// found by name: None unless the id starts with `id_prefix`, which keeps
    /// another environment whose name extends this one (`dev`, `dev-db`) out.
    pub fn id_in_name(&self, name: &str, id_prefix: &str) -> Option<String> {
        name.strip_prefix(&self.name(""))
            .filter(|id| id.starts_with(id_prefix))
            .map(str::to_string)
    }

    /// The logical id a resource with these tags has in this scope, or None
    /// when it belongs to another stack or environment (or to nobody).
    pub fn logical_id<'a>(
        &self,
        tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Option<String> {
        let (mut stack, mut env, mut id) = (false, false, None);
        for (k, v) in tags {
            match k {
                Self::STACK_TAG => stack = v == self.stack,
                Self::ENV_TAG => env = v == self.env,
                Self::ID_TAG => id = Some(v.to_string()),
                _ => {}
            }
        }
        if stack && env { id } else { None }
    }
}

/// A stable 64-bit hash of `text` (FNV-1a): the same on every run and
/// machine, for names and digests that must not change.
pub fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
