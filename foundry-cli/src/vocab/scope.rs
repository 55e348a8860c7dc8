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
