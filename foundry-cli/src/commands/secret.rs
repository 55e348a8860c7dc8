use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use anyhow::bail;
use foundry::engine::expand::secret_name;
use foundry::resources::secret;
use foundry::stack::closest;

use crate::cli::{Global, SecretAction};

pub async fn run(g: &Global, action: SecretAction) -> anyhow::Result<ExitCode> {
    let SecretAction::Set { name } = action;
    let stack = super::load_stack(g)?;
    if !stack.secrets.iter().any(|s| s.name == name) {
        let declared: Vec<&str> = stack.secrets.iter().map(|s| s.name.as_str()).collect();
        let hint = match closest(&name, declared.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("declared secrets: {}", declared.join(", ")),
        };
        bail!("the stack file declares no secret `{name}`; {hint}");
    }
    let value = read_value(&name)?;
    let session = super::open(g, None).await?;
    let full_name = secret_name(&session.stack, &name);
    let version = secret::put_value(&session.aws, &full_name, value).await?;
    println!("Stored a new value for {full_name} (version {version}).");
    Ok(ExitCode::SUCCESS)
}

/// From a hidden prompt on a terminal, else all of stdin (one trailing
/// newline dropped). Never echoed.
fn read_value(name: &str) -> anyhow::Result<String> {
    let mut value = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("Value for {name} (input hidden): "))?
    } else {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        text
    };
    if value.ends_with('\n') {
        value.pop();
        if value.ends_with('\r') {
            value.pop();
        }
    }
    if value.is_empty() {
        bail!(
            "the value for {name} is empty; nothing was stored. Pipe the value in, e.g. `foundry secret set {name} --env ENV < key.txt`"
        );
    }
    Ok(value)
}
