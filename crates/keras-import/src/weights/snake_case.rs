//! Keras' `to_snake_case` of a Python class name, which names the weight groups of the
//! `.keras` layout (`Conv2D` -> `conv2d`, `ReLU` -> `re_lu`, `TFOpLambda` -> `tf_op_lambda`).
//!
//! Keras 3 (`keras.src.utils.naming.to_snake_case`) does, on the class name:
//! 1. `re.sub(r"\W+", "", name)`: drop non-word characters;
//! 2. `re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)`;
//! 3. `re.sub("([a-z])([A-Z])", r"\1_\2", name)`;
//! 4. lower-case.
//!
//! The same patterns run here on the `regex` crate, whose `replace_all` scans left to right
//! without overlapping matches, as Python's `re.sub`, and whose `\W` is Unicode-aware, as
//! Python 3's. tf_keras' variant allows digits after the capital in step 2 (`[a-z0-9]+`),
//! which differs only for a capital directly followed by a digit, a pattern no Keras layer
//! class has.

use std::sync::LazyLock;

use regex::Regex;

/// The three patterns of Keras' `to_snake_case`, compiled once.
struct Patterns {
    non_word: Regex,
    capitalised_word: Regex,
    lower_upper: Regex,
}

static PATTERNS: LazyLock<Patterns> = LazyLock::new(|| {
    // Literal patterns known to be valid: compiling them cannot fail.
    let compile = |pattern| Regex::new(pattern).expect("a valid literal pattern");
    Patterns {
        non_word: compile(r"\W+"),
        capitalised_word: compile("(.)([A-Z][a-z]+)"),
        lower_upper: compile("([a-z])([A-Z])"),
    }
});

/// The snake_case group name Keras derives from `class_name`.
pub(crate) fn to_snake_case(class_name: &str) -> String {
    let p = &*PATTERNS;
    let word = p.non_word.replace_all(class_name, "");
    let split_words = p.capitalised_word.replace_all(&word, "${1}_${2}");
    p.lower_upper
        .replace_all(&split_words, "${1}_${2}")
        .to_lowercase()
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
            ("UpSampling2D", "up_sampling2d"),
            ("GlobalMaxPool2D", "global_max_pool2d"),
            ("HTTPRequestLayer", "http_request_layer"),
            ("Conv2D_v2", "conv2d_v2"),
            ("My-Layer!", "my_layer"),
            ("ABC", "abc"),
            ("aB", "a_b"),
            ("", ""),
        ] {
            assert_eq!(to_snake_case(class), group, "{class}");
        }
    }
}
