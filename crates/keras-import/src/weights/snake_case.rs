//! Keras' `to_snake_case` of a Python class name, which names the weight groups of the
//! `.keras` layout (`Conv2D` -> `conv2d`, `ReLU` -> `re_lu`, `TFOpLambda` -> `tf_op_lambda`).
//!
//! Keras 3 (`keras.src.utils.naming.to_snake_case`) does, on the class name:
//! 1. drop non-word characters;
//! 2. `re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)`;
//! 3. `re.sub("([a-z])([A-Z])", r"\1_\2", name)`;
//! 4. lower-case.
//!
//! Both substitutions scan left to right without overlapping matches, as Python's `re.sub`.
//! tf_keras' variant allows digits after the capital in step 2 (`[a-z0-9]+`), which differs
//! only for a capital directly followed by a digit, a pattern no Keras layer class has.

/// The snake_case group name Keras derives from `class_name`.
pub(crate) fn to_snake_case(class_name: &str) -> String {
    let word: Vec<char> = class_name
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    let split_words = underscore_before_capitalised_words(&word);
    underscore_between_lower_and_upper(&split_words)
        .into_iter()
        .flat_map(char::to_lowercase)
        .collect()
}

/// `re.sub("(.)([A-Z][a-z]+)", r"\1_\2", s)`.
fn underscore_before_capitalised_words(s: &[char]) -> Vec<char> {
    let mut out = Vec::with_capacity(s.len() * 2);
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        let run = lowercase_run(s, i + 2);
        if is_ascii_upper(s.get(i + 1)) && run > 0 {
            out.push(c);
            out.push('_');
            out.extend_from_slice(s.get(i + 1..i + 2 + run).unwrap_or_default());
            i += 2 + run;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// `re.sub("([a-z])([A-Z])", r"\1_\2", s)`.
fn underscore_between_lower_and_upper(s: &[char]) -> Vec<char> {
    let mut out = Vec::with_capacity(s.len() * 2);
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        if c.is_ascii_lowercase() && is_ascii_upper(s.get(i + 1)) {
            out.push(c);
            out.push('_');
            out.extend(s.get(i + 1).copied());
            i += 2;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Number of consecutive `[a-z]` characters starting at `start`.
fn lowercase_run(s: &[char], start: usize) -> usize {
    s.get(start..)
        .unwrap_or_default()
        .iter()
        .take_while(|c| c.is_ascii_lowercase())
        .count()
}

fn is_ascii_upper(c: Option<&char>) -> bool {
    c.is_some_and(|c| c.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::to_snake_case;

    #[test]
    fn matches_keras_group_names() {
        for (class, group) in [
            ("Conv2D", "conv2d"),
            ("DepthwiseConv2D", "depthwise_conv2d"),
            ("SeparableConv2D", "separable_conv2d"),
            ("BatchNormalization", "batch_normalization"),
            ("ReLU", "re_lu"),
            ("PReLU", "p_re_lu"),
            ("Dense", "dense"),
            ("Functional", "functional"),
            ("Sequential", "sequential"),
            ("LayerScale", "layer_scale"),
            ("TFOpLambda", "tf_op_lambda"),
            ("GlobalAveragePooling2D", "global_average_pooling2d"),
            ("Conv2DTranspose", "conv2d_transpose"),
            ("ZeroPadding2D", "zero_padding2d"),
            ("LayerNormalization", "layer_normalization"),
            ("InputLayer", "input_layer"),
        ] {
            assert_eq!(to_snake_case(class), group, "{class}");
        }
    }
}
