//! Which calls get which fault: the seeded plan, its rules and the plan-string
//! parser. Pure logic, no I/O, so a decision can be predicted in a test.

use std::fmt;
use std::str::FromStr;

/// What the proxy does instead of (or after) forwarding a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// Answer at once with the protocol's throttling error; moto never sees the call.
    Throttle,
    /// Answer at once with the protocol's 503 "service unavailable" error.
    Unavailable,
    /// Forward to moto, wait for its whole response, then close the client's
    /// connection without sending a byte: the call happened, the answer is lost.
    DropResponse,
}

impl Fault {
    /// The word the plan syntax uses for this fault.
    pub fn keyword(self) -> &'static str {
        match self {
            Fault::Throttle => "throttle",
            Fault::Unavailable => "unavailable",
            Fault::DropResponse => "drop",
        }
    }

    fn from_keyword(word: &str) -> Option<Self> {
        [Fault::Throttle, Fault::Unavailable, Fault::DropResponse]
            .into_iter()
            .find(|fault| fault.keyword() == word)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// When a rule fires for a call of an operation it matches.
#[derive(Clone, Debug, PartialEq)]
pub enum Trigger {
    /// Each call independently, with this chance in percent (0–100), decided by
    /// a hash of (seed, rule, operation, call number): repeatable, not random.
    Percent(f64),
    /// Exactly these calls, counted per operation from 1: inclusive ranges, so
    /// `#1` is `[(1, 1)]` and `#2-4,7` is `[(2, 4), (7, 7)]`.
    Calls(Vec<(u64, u64)>),
}

impl Trigger {
    /// The calls with these numbers (1 = the first call of the operation).
    pub fn calls(numbers: impl IntoIterator<Item = u64>) -> Self {
        Trigger::Calls(numbers.into_iter().map(|n| (n, n)).collect())
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::Percent(percent) => write!(f, "{percent}%"),
            Trigger::Calls(ranges) => {
                f.write_str("#")?;
                for (i, (first, last)) in ranges.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    if first == last {
                        write!(f, "{first}")?;
                    } else {
                        write!(f, "{first}-{last}")?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// Which operations a rule applies to. Operations are named `service:Operation`
/// (`ec2:CreateVpc`, `s3:PutBucketTagging`, `cloudwatch:PutMetricAlarm`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OperationMatcher {
    /// `*`: every operation.
    Any,
    /// `ec2:*`: every operation of one service.
    Service(String),
    /// `ec2:CreateVpc`: one operation.
    Exact(String),
}

impl OperationMatcher {
    pub fn matches(&self, operation: &str) -> bool {
        match self {
            OperationMatcher::Any => true,
            OperationMatcher::Service(service) => {
                operation.split_once(':').is_some_and(|(s, _)| s == service)
            }
            OperationMatcher::Exact(name) => name == operation,
        }
    }
}

impl fmt::Display for OperationMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OperationMatcher::Any => f.write_str("*"),
            OperationMatcher::Service(service) => write!(f, "{service}:*"),
            OperationMatcher::Exact(name) => f.write_str(name),
        }
    }
}

impl FromStr for OperationMatcher {
    type Err = PlanProblem;

    fn from_str(text: &str) -> Result<Self, PlanProblem> {
        if text == "*" {
            return Ok(OperationMatcher::Any);
        }
        let bad = || PlanProblem::BadOperation(text.to_string());
        let (service, operation) = text.split_once(':').ok_or_else(bad)?;
        let service_ok = !service.is_empty()
            && service
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        let operation_ok = !operation.is_empty()
            && !operation
                .chars()
                .any(|c| c.is_whitespace() || matches!(c, ';' | '@' | ',' | '='));
        if !service_ok || !operation_ok {
            return Err(bad());
        }
        Ok(if operation == "*" {
            OperationMatcher::Service(service.to_string())
        } else {
            OperationMatcher::Exact(text.to_string())
        })
    }
}

/// One line of a plan: inject `fault` on the calls `trigger` selects among the
/// operations `operations` matches.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultRule {
    pub fault: Fault,
    pub trigger: Trigger,
    pub operations: Vec<OperationMatcher>,
}

impl fmt::Display for FaultRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}@", self.fault, self.trigger)?;
        for (i, matcher) in self.operations.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{matcher}")?;
        }
        Ok(())
    }
}

/// A seed and an ordered list of rules. For each call the first rule that
/// matches the operation and fires decides the fault; no rule firing means the
/// call is forwarded untouched.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultPlan {
    pub seed: u64,
    pub rules: Vec<FaultRule>,
}

/// The environment variable foundry's tests (and people) use to hand a plan
/// string to the proxy.
pub const PLAN_ENV: &str = "FOUNDRY_FAULT_PLAN";

impl FaultPlan {
    /// A plan without rules: a transparent proxy that only counts.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            rules: Vec::new(),
        }
    }

    pub fn rule(mut self, fault: Fault, trigger: Trigger, operations: OperationMatcher) -> Self {
        self.rules.push(FaultRule {
            fault,
            trigger,
            operations: vec![operations],
        });
        self
    }

    /// Parses the plan syntax described in the module documentation.
    pub fn parse(text: &str) -> Result<Self, PlanError> {
        let mut plan = FaultPlan::new(0);
        let mut seen_seed = false;
        for (index, raw) in text.split(';').enumerate() {
            let item = raw.trim();
            if item.is_empty() {
                continue;
            }
            let error = |problem| PlanError {
                item_number: index + 1,
                item: item.to_string(),
                problem,
            };
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| error(PlanProblem::MissingEquals))?;
            let (key, value) = (key.trim(), value.trim());
            if key == "seed" {
                if seen_seed {
                    return Err(error(PlanProblem::SeedTwice));
                }
                seen_seed = true;
                plan.seed = value
                    .parse()
                    .map_err(|_| error(PlanProblem::BadSeed(value.to_string())))?;
                continue;
            }
            let fault = Fault::from_keyword(key)
                .ok_or_else(|| error(PlanProblem::UnknownKey(key.to_string())))?;
            let (trigger, operations) = match value.split_once('@') {
                Some((trigger, operations)) => (trigger.trim(), operations.trim()),
                None => (value, "*"),
            };
            let trigger = parse_trigger(trigger).map_err(error)?;
            let operations = operations
                .split(',')
                .map(|matcher| matcher.trim().parse())
                .collect::<Result<Vec<OperationMatcher>, _>>()
                .map_err(error)?;
            plan.rules.push(FaultRule {
                fault,
                trigger,
                operations,
            });
        }
        Ok(plan)
    }

    /// The plan in `$FOUNDRY_FAULT_PLAN`, if that variable is set and not empty.
    pub fn from_env() -> Result<Option<Self>, PlanError> {
        match std::env::var(PLAN_ENV) {
            Ok(text) if !text.trim().is_empty() => Self::parse(&text).map(Some),
            _ => Ok(None),
        }
    }

    /// The fault for call number `call` (counted from 1) of `operation`, if any.
    /// Depends only on the plan, the operation and the call number, so the
    /// calls of other operations in between never change it.
    pub fn decide(&self, operation: &str, call: u64) -> Option<Fault> {
        self.rules.iter().enumerate().find_map(|(index, rule)| {
            if !rule.operations.iter().any(|m| m.matches(operation)) {
                return None;
            }
            let fires = match &rule.trigger {
                Trigger::Calls(ranges) => ranges.iter().any(|&(a, b)| (a..=b).contains(&call)),
                Trigger::Percent(percent) => {
                    unit_interval(self.seed, index as u64, operation, call) * 100.0 < *percent
                }
            };
            fires.then_some(rule.fault)
        })
    }
}

impl FromStr for FaultPlan {
    type Err = PlanError;

    fn from_str(text: &str) -> Result<Self, PlanError> {
        Self::parse(text)
    }
}

/// Renders the plan in its own syntax, so a failing test can print the exact
/// value to put in `FOUNDRY_FAULT_PLAN` to replay it.
impl fmt::Display for FaultPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seed={}", self.seed)?;
        for rule in &self.rules {
            write!(f, ";{rule}")?;
        }
        Ok(())
    }
}

fn parse_trigger(text: &str) -> Result<Trigger, PlanProblem> {
    let bad = || PlanProblem::BadTrigger(text.to_string());
    if let Some(number) = text.strip_suffix('%') {
        let percent: f64 = number.trim().parse().map_err(|_| bad())?;
        if !(0.0..=100.0).contains(&percent) {
            return Err(PlanProblem::PercentOutOfRange(text.to_string()));
        }
        return Ok(Trigger::Percent(percent));
    }
    let list = text.strip_prefix('#').ok_or_else(bad)?;
    let number = |s: &str| -> Result<u64, PlanProblem> {
        match s.trim().parse::<u64>() {
            Ok(0) => Err(PlanProblem::CallZero(text.to_string())),
            Ok(n) => Ok(n),
            Err(_) => Err(bad()),
        }
    };
    let mut ranges = Vec::new();
    for part in list.split(',') {
        let range = match part.split_once('-') {
            Some((first, last)) => (number(first)?, number(last)?),
            None => (number(part)?, number(part)?),
        };
        if range.0 > range.1 {
            return Err(PlanProblem::EmptyRange(part.trim().to_string()));
        }
        ranges.push(range);
    }
    Ok(Trigger::Calls(ranges))
}

/// A repeatable number in [0, 1) for one call: FNV-1a over the inputs, then the
/// splitmix64 finaliser to spread FNV's weak low bits. Spelled out rather than
/// `std::hash` because std makes no promise that its hashes stay the same
/// between Rust releases, and a seed must replay the same faults forever.
fn unit_interval(seed: u64, rule: u64, operation: &str, call: u64) -> f64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &byte in bytes {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    feed(&seed.to_le_bytes());
    feed(&rule.to_le_bytes());
    feed(operation.as_bytes());
    feed(&call.to_le_bytes());
    let mut z = hash.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// A plan string that could not be parsed: which item, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("fault plan item {item_number} `{item}`: {problem}")]
pub struct PlanError {
    /// 1-based position among the `;`-separated items.
    pub item_number: usize,
    pub item: String,
    pub problem: PlanProblem,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanProblem {
    #[error(
        "expected `KEY=VALUE`, e.g. `seed=7` or `drop=#1@ec2:CreateVpc` (items are separated by `;`)"
    )]
    MissingEquals,
    #[error("unknown key `{0}`; the keys are `seed`, `throttle`, `unavailable` and `drop`")]
    UnknownKey(String),
    #[error("the seed `{0}` is not a whole number from 0 to 18446744073709551615")]
    BadSeed(String),
    #[error("the seed is given twice")]
    SeedTwice,
    #[error(
        "the trigger `{0}` is neither a percentage like `5%` or `2.5%` nor call numbers like `#1`, `#2-4` or `#1,3`"
    )]
    BadTrigger(String),
    #[error("the percentage `{0}` is not between 0% and 100%")]
    PercentOutOfRange(String),
    #[error("calls are counted from 1, so `{0}` names a call that never happens")]
    CallZero(String),
    #[error("the range `{0}` ends before it starts")]
    EmptyRange(String),
    #[error(
        "`{0}` is not an operation pattern; use `*`, `SERVICE:*` or `SERVICE:Operation` with a lower-case service, e.g. `ec2:*` or `s3:PutBucketTagging`"
    )]
    BadOperation(String),
}
