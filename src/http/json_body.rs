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

/// Finds which top-level field of `T` made `parse_from_json` fail: a missing required field, or
/// the field whose schema is the type poem-openapi expected.
fn field_at_fault<T: Type>(value: &Value, message: &str) -> Vec<FieldError> {
    let mut registry = Registry::new();
    T::register(&mut registry);
    let schema = match T::schema_ref() {
        MetaSchemaRef::Reference(name) => registry.schemas.get(&name).cloned(),
        MetaSchemaRef::Inline(s) => Some(*s),
    };
    let (Some(schema), Some(obj)) = (schema, value.as_object()) else {
        return vec![FieldError {
            field: "body".into(),
            reason: format!("must be a JSON object ({message})"),
        }];
    };
    for required in &schema.required {
        if obj.get(*required).is_none_or(Value::is_null) {
            return vec![FieldError {
                field: (*required).into(),
                reason: "is required".into(),
            }];
        }
    }
    let expected = message
        .split("Expected input type \"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_default();
    for (name, prop) in &schema.properties {
        let Some(v) = obj.get(*name) else { continue };
        let (type_name, enum_items) = match prop {
            MetaSchemaRef::Reference(r) => (
                r.clone(),
                registry
                    .schemas
                    .get(r)
                    .map(|s| s.enum_items.clone())
                    .unwrap_or_default(),
            ),
            MetaSchemaRef::Inline(s) => (s.ty.to_string(), s.enum_items.clone()),
        };
        if type_name != expected {
            continue;
        }
        let reason = if !enum_items.is_empty() {
            let allowed: Vec<String> = enum_items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect();
            format!("unknown value {v}; expected one of {}", allowed.join(", "))
        } else {
            format!("expected {expected}, found {}", json_type(v))
        };
        return vec![FieldError {
            field: (*name).into(),
            reason,
        }];
    }
    vec![FieldError {
        field: "body".into(),
        reason: message.to_owned(),
    }]
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
        match T::parse_from_json(Some(value.clone())) {
            Ok(v) => Ok(JsonBody(v)),
            Err(e) => Err(reject(field_at_fault::<T>(&value, &e.into_message()))),
        }
    }
}

impl_apirequest_for_payload!(JsonBody<T>, T: ParseFromJSON);
