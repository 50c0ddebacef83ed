//! Message templates: text with `{field}` placeholders, resolved against the pipeline's
//! fields when the file is loaded (an unknown field is a load error, not an empty string).
//! `{{` and `}}` write literal braces.

use crate::value::{Row, Value};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(usize),
}

/// A compiled template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

/// A template error: the message and the byte offset in the template text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError {
    pub message: String,
    pub offset: usize,
    pub name: Option<String>,
}

impl Template {
    pub fn compile(text: &str, names: &[String]) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '{' if chars.peek().is_some_and(|(_, n)| *n == '{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().is_some_and(|(_, n)| *n == '}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let rest = &text[at + 1..];
                    let Some(end) = rest.find('}') else {
                        return Err(TemplateError {
                            message: "unclosed `{` in the message".into(),
                            offset: at,
                            name: None,
                        });
                    };
                    let name = rest[..end].trim();
                    let index = names.iter().position(|n| n == name).ok_or(TemplateError {
                        message: format!("no field `{name}` for the message"),
                        offset: at + 1,
                        name: Some(name.to_string()),
                    })?;
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Field(index));
                    for _ in 0..rest[..end].chars().count() + 1 {
                        chars.next();
                    }
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template { parts })
    }

    /// The message for one row: strings as they are, other values as JSON.
    pub fn render(&self, row: &Row) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Field(i) => match row.get(*i) {
                    Value::Str(s) => out.push_str(s),
                    other => other.write_json(&mut out),
                },
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_filled_in_and_braces_escaped() {
        let names = vec!["user".to_string(), "total".to_string()];
        let t = Template::compile("{user} spent {total} {{EUR}}", &names).unwrap();
        let row = Row(vec![Value::from("u1"), Value::Int(1200)]);
        assert_eq!(t.render(&row), "u1 spent 1200 {EUR}");
        let e = Template::compile("x {totl}", &names).unwrap_err();
        assert_eq!((e.offset, e.name.as_deref()), (3, Some("totl")));
        assert!(Template::compile("x {user", &names).is_err());
    }
}
