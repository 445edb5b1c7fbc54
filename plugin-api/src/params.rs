//! Typed kernel parameters as they cross the ABI.

use abi_stable::{
    std_types::{RString, RVec},
    StableAbi,
};

/// One parameter value. Text values carry enumerations (`"reflect101"`, `"otsu"`, ...).
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// An integer (`ksize`, `iterations`, ...).
    Int(i64),
    /// A real number (`sigma`, `thresh`, ...).
    Float(f64),
    /// A flag (`otsu`, `normalize`, ...).
    Bool(bool),
    /// One of a fixed set of names (`border`, `shape`, `type`, ...).
    Text(RString),
    /// A list of numbers (`range` of `histogram`).
    FloatList(RVec<f64>),
}

impl ParamValue {
    /// The value as a number, accepting integers where a real is expected.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            ParamValue::Int(i) => Some(*i as f64),
            ParamValue::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The value as an integer; a real with no fractional part counts (JSON writers emit `5.0`).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            ParamValue::Int(i) => Some(*i),
            ParamValue::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            _ => None,
        }
    }

    /// The value as a flag.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            ParamValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The value as a name.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            ParamValue::Text(s) => Some(s.as_str()),
            _ => None,
        }
    }
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x}"),
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Text(s) => write!(f, "\"{s}\""),
            ParamValue::FloatList(v) => write!(f, "{:?}", v.as_slice()),
        }
    }
}

/// A named parameter.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct Param {
    /// Parameter name as in KERNELS.md.
    pub name: RString,
    /// Its value.
    pub value: ParamValue,
}

/// The complete, validated parameters of one step: every parameter of the kernel's schema is
/// present (defaults filled in by the host), except those whose default depends on the input
/// (e.g. `histogram.bins`), which are absent when not given.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Default)]
pub struct ParamSet {
    /// Parameters in schema order.
    pub params: RVec<Param>,
}

impl ParamSet {
    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.params
            .iter()
            .find(|p| p.name.as_str() == name)
            .map(|p| &p.value)
    }

    /// Sets `name` to `value`, replacing an earlier value.
    pub fn set(&mut self, name: &str, value: ParamValue) {
        match self.params.iter_mut().find(|p| p.name.as_str() == name) {
            Some(p) => p.value = value,
            None => self.params.push(Param {
                name: name.into(),
                value,
            }),
        }
    }

    /// Builder form of [`ParamSet::set`].
    pub fn with(mut self, name: &str, value: ParamValue) -> ParamSet {
        self.set(name, value);
        self
    }

    /// Iterates `(name, value)` pairs.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ParamValue)> {
        self.params.iter().map(|p| (p.name.as_str(), &p.value))
    }
}

impl ParamValue {
    /// Converts a JSON value from a pipeline file. Numbers with no fraction become `Int`,
    /// arrays of numbers `FloatList`. `None` for objects, null and mixed arrays.
    pub fn from_json(v: &serde_json::Value) -> Option<ParamValue> {
        use serde_json::Value;
        Some(match v {
            Value::Bool(b) => ParamValue::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => ParamValue::Int(i),
                None => ParamValue::Float(n.as_f64()?),
            },
            Value::String(s) => ParamValue::Text(s.as_str().into()),
            Value::Array(items) => {
                let nums: Option<Vec<f64>> = items.iter().map(serde_json::Value::as_f64).collect();
                ParamValue::FloatList(nums?.into())
            }
            Value::Null | Value::Object(_) => return None,
        })
    }

    /// The value as JSON (for saving pipelines and reports).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            ParamValue::Int(i) => Value::from(*i),
            ParamValue::Float(f) => Value::from(*f),
            ParamValue::Bool(b) => Value::from(*b),
            ParamValue::Text(s) => Value::from(s.as_str()),
            ParamValue::FloatList(v) => Value::from(v.to_vec()),
        }
    }
}
