//! A JSON request body like poem-openapi's `Json<T>`, but whose parse errors name the field at
//! fault (`errors[].field`), which poem-openapi's own messages do not.
use super::{FieldError, Problem};
use poem::{FromRequest, Request, RequestBody};
use poem_openapi::{
    impl_apirequest_for_payload,
    payload::{Json, ParsePayload, Payload},
    registry::{MetaSchemaRef, Registry},
    types::{ParseFromJSON, Type},
};
use serde_json::Value;

pub struct JsonBody<T>(pub T);

impl<T> std::ops::Deref for JsonBody<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Type> Payload for JsonBody<T> {
    const CONTENT_TYPE: &'static str = <Json<T> as Payload>::CONTENT_TYPE;
    fn check_content_type(content_type: &str) -> bool {
        <Json<T> as Payload>::check_content_type(content_type)
    }
    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }
    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

fn reject(errors: Vec<FieldError>) -> poem::Error {
    poem::Error::from_response(Problem::validation(errors).into_poem_response())
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The type name poem-openapi's messages use: a schema's name, or `ty(format)` inline.
fn type_name(r: &MetaSchemaRef) -> String {
    match r {
        MetaSchemaRef::Reference(name) => name.clone(),
        MetaSchemaRef::Inline(s) => match s.format {
            Some(f) => format!("{}({f})", s.ty),
            None => s.ty.to_string(),
        },
    }
}

/// Whether `v` could be a valid value of the named type, as far as can be told without parsing it
/// the way poem-openapi does: used to tell two fields of the same type apart.
fn fits(type_name: &str, enum_items: &[Value], v: &Value) -> bool {
    if !enum_items.is_empty() {
        return enum_items.contains(v);
    }
    match type_name {
        "integer" | "integer(int32)" | "integer(int64)" | "integer(uint64)" | "integer(uint32)" => {
            v.is_i64() || v.is_u64()
        }
        "number" | "number(double)" | "number(float)" => v.is_number(),
        "boolean" => v.is_boolean(),
        "string" => v.is_string(),
        "string(date)" => v
            .as_str()
            .is_some_and(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()),
        "string(date-time)" => v
            .as_str()
            .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok()),
        _ => false,
    }
}

/// Walks `v` along the schema `r` and names the first place (`rules/0/kind`) that is missing a
/// required field or holds a value of the type poem-openapi said it expected and could not parse.
fn locate(
    registry: &Registry,
    r: &MetaSchemaRef,
    v: &Value,
    path: &str,
    expected: &str,
) -> Option<FieldError> {
    let schema = match r {
        MetaSchemaRef::Reference(name) => registry.schemas.get(name).cloned(),
        MetaSchemaRef::Inline(s) => Some((**s).clone()),
    }?;
    let name = type_name(r);
    if !path.is_empty() && name == expected && !fits(&name, &schema.enum_items, v) {
        let reason = if !schema.enum_items.is_empty() {
            let allowed: Vec<&str> = schema.enum_items.iter().filter_map(Value::as_str).collect();
            format!("unknown value {v}; expected one of {}", allowed.join(", "))
        } else {
            format!("expected {expected}, found {}", json_type(v))
        };
        return Some(FieldError {
            field: path.to_owned(),
            reason,
        });
    }
    let join = |child: &str| {
        if path.is_empty() {
            child.to_owned()
        } else {
            format!("{path}/{child}")
        }
    };
    match v {
        Value::Object(obj) if schema.ty == "object" => {
            for required in &schema.required {
                if obj.get(*required).is_none_or(Value::is_null) {
                    return Some(FieldError {
                        field: join(required),
                        reason: "is required".into(),
                    });
                }
            }
            schema.properties.iter().find_map(|(prop, prop_schema)| {
                let child = obj.get(*prop)?;
                locate(registry, prop_schema, child, &join(prop), expected)
            })
        }
        Value::Array(items) if schema.ty == "array" => {
            let item_schema = schema.items.as_ref()?;
            items.iter().enumerate().find_map(|(i, item)| {
                locate(registry, item_schema, item, &join(&i.to_string()), expected)
            })
        }
        _ => None,
    }
}

/// What poem-openapi would let through although the document forbids it: a number or a boolean
/// where a string is expected (it would read `{"name": false}` as the text "false"), `null` for a
/// field, which the document never declares nullable (leave the field out instead), and a NUL
/// character in text, which PostgreSQL cannot store.
fn off_schema(registry: &Registry, r: &MetaSchemaRef, v: &Value, path: &str) -> Option<FieldError> {
    let schema = match r {
        MetaSchemaRef::Reference(name) => registry.schemas.get(name).cloned(),
        MetaSchemaRef::Inline(s) => Some((**s).clone()),
    }?;
    let join = |child: &str| {
        if path.is_empty() {
            child.to_owned()
        } else {
            format!("{path}/{child}")
        }
    };
    match v {
        Value::String(s) if s.contains('\0') => Some(FieldError {
            field: if path.is_empty() { "body" } else { path }.to_owned(),
            reason: super::nul::REASON.into(),
        }),
        Value::Bool(_) | Value::Number(_) if schema.ty == "string" => Some(FieldError {
            field: if path.is_empty() { "body" } else { path }.to_owned(),
            reason: format!("expected a string, found {}", json_type(v)),
        }),
        Value::Object(obj) if schema.ty == "object" => {
            schema.properties.iter().find_map(|(prop, prop_schema)| {
                let child = obj.get(*prop)?;
                if child.is_null() {
                    return Some(FieldError {
                        field: join(prop),
                        reason: "must not be null; leave the field out instead".into(),
                    });
                }
                off_schema(registry, prop_schema, child, &join(prop))
            })
        }
        Value::Array(items) if schema.ty == "array" => {
            let item_schema = schema.items.as_ref()?;
            items.iter().enumerate().find_map(|(i, item)| {
                off_schema(registry, item_schema, item, &join(&i.to_string()))
            })
        }
        _ => None,
    }
}

/// Finds which field of `T`, at any depth, made `parse_from_json` fail.
fn field_at_fault<T: Type>(value: &Value, message: &str) -> Vec<FieldError> {
    let mut registry = Registry::new();
    T::register(&mut registry);
    if !value.is_object() {
        return vec![FieldError {
            field: "body".into(),
            reason: format!("must be a JSON object ({message})"),
        }];
    }
    let expected = message
        .split("Expected input type \"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_default();
    // A validator (length, items, range) names its field itself.
    if let Some((field, rule)) = message
        .split_once("field `")
        .and_then(|(_, rest)| rest.split_once("` verification failed. "))
    {
        return vec![FieldError {
            field: field.to_owned(),
            reason: format!("does not meet {rule}"),
        }];
    }
    match locate(&registry, &T::schema_ref(), value, "", expected) {
        Some(e) => vec![e],
        None => vec![FieldError {
            field: "body".into(),
            reason: message.to_owned(),
        }],
    }
}

impl<T: ParseFromJSON> ParsePayload for JsonBody<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let data = Vec::<u8>::from_request(request, body).await?;
        let value: Value = serde_json::from_slice(&data).map_err(|e| {
            reject(vec![FieldError {
                field: "body".into(),
                reason: format!("is not valid JSON: {e}"),
            }])
        })?;
        let mut registry = Registry::new();
        T::register(&mut registry);
        if let Some(e) = off_schema(&registry, &T::schema_ref(), &value, "") {
            return Err(reject(vec![e]));
        }
        match T::parse_from_json(Some(value.clone())) {
            Ok(v) => Ok(JsonBody(v)),
            Err(e) => Err(reject(field_at_fault::<T>(&value, &e.into_message()))),
        }
    }
}

impl_apirequest_for_payload!(JsonBody<T>, T: ParseFromJSON);
