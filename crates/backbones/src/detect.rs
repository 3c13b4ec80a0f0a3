//! Recognising a keras.applications backbone in a flattened graph.
//!
//! Three routes, tried in order; each needs structural agreement (marker layer names and layer
//! class counts, see [`Structure`]) of at least [`ACCEPT`]:
//!
//! 1. **Scope count** (confidence 0.5 + 0.5·agreement, up to 1.0): a scope — the whole model or a
//!    nested model — whose parameter count equals a signature's. Frozen or not, the total is the
//!    same. Signatures sharing a count (a collision) are told apart by the agreement.
//! 2. **Backbone output** (0.4 + 0.5·agreement, up to 0.9): a layer named like a signature's
//!    include_top=False output (`out_relu`, `conv5_block3_out` ...) whose ancestors, within its
//!    scope, have exactly that signature's parameter count. This finds an application whose
//!    classifier was rebuilt with another class count, or a backbone flattened into a bigger
//!    model. `include_top` is reported when all of the family's head layers (`predictions`,
//!    `conv_preds` ...) are in the same scope.
//! 3. **Structure only** (0.5, variant left open unless one constructor fits): no count matches,
//!    but the ancestors of such an output layer carry every marker and exactly the class counts
//!    of the signatures of one family (e.g. a width multiplier the corpus lacks).
//!
//! A model without such evidence yields `None`.

use keras_import::{Graph, NodeId, ScopeId};

use crate::evidence::{NodeSet, Structure};
use crate::preprocessing::Preprocessing;
use crate::signatures::{family_info, name_matches, Signature, SIGNATURES};

/// Least structural agreement (mean of the fraction of marker layer names present and the
/// fraction of equal layer class counts) that confirms a parameter-count match.
pub const ACCEPT: f32 = 0.75;
/// Confidence of a detection by structure alone.
const STRUCTURE_ONLY_CONFIDENCE: f32 = 0.5;

/// A recognised pretrained backbone.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// keras.applications module name (`resnet`, `mobilenet_v2` ...).
    pub family: &'static str,
    /// Constructor and arguments (`MobileNetV2(alpha=0.35)`), when determinable.
    pub variant: Option<String>,
    /// The corpus signature the decision rests on, if any.
    pub signature: Option<&'static str>,
    /// Path of the scope holding the backbone (`""` = the whole model).
    pub scope: String,
    /// Whether the backbone is a nested model.
    pub nested: bool,
    /// Whether the backbone carries its classifier head.
    pub include_top: bool,
    /// The family's preprocessing mode.
    pub preprocessing: Preprocessing,
    /// 0..1: 1.0 = count and structure agree fully; see the module docs for the scale.
    pub confidence: f32,
    /// Human-readable reasons, strongest first.
    pub evidence: Vec<String>,
}

/// Finds the backbone of `graph` among the corpus signatures.
pub fn detect(graph: &Graph) -> Option<Detection> {
    detect_in(graph, SIGNATURES)
}

/// [`detect`] against an explicit signature table.
pub(crate) fn detect_in(graph: &Graph, table: &'static [Signature]) -> Option<Detection> {
    by_scope_count(graph, table)
        .or_else(|| by_backbone_output(graph, table))
        .or_else(|| by_structure_only(graph, table))
}

/// Route 1: a scope whose parameter count equals a signature's.
fn by_scope_count(graph: &Graph, table: &'static [Signature]) -> Option<Detection> {
    let mut best: Option<(f32, ScopeId, &'static Signature, Structure, Vec<String>)> = None;
    for scope in 0..graph.scopes.len() {
        let set = NodeSet::scope(graph, scope);
        let total = set.param_count();
        let candidates: Vec<(&'static Signature, Structure)> = table
            .iter()
            .filter(|s| s.param_count == total)
            .map(|s| (s, set.structure(s)))
            .collect();
        // The best agreement; on a tie the first in table order (Keras 3 before Keras 2).
        let Some((sig, structure)) = candidates
            .iter()
            .filter(|(_, st)| st.score() >= ACCEPT)
            .rev()
            .max_by(|a, b| a.1.score().total_cmp(&b.1.score()))
        else {
            continue;
        };
        let score = structure.score();
        if best.as_ref().is_some_and(|b| b.0 >= score) {
            continue;
        }
        let mut evidence = vec![format!(
            "parameter count {total} of scope `{}` equals {}",
            scope_path(graph, scope),
            sig.id
        )];
        evidence.extend(structure.describe(sig));
        for (other, st) in &candidates {
            if other.id != sig.id {
                evidence.push(format!(
                    "count also matches {} ({}), structural agreement {:.2}",
                    other.id,
                    other.variant(),
                    st.score()
                ));
            }
        }
        best = Some((score, scope, sig, structure.clone(), evidence));
    }
    let (score, scope, sig, _, evidence) = best?;
    Some(detection(
        graph,
        sig,
        scope,
        Some(sig.variant()),
        sig.include_top,
        0.5 + 0.5 * score,
        evidence,
    ))
}

/// Route 2: a backbone output layer whose ancestors have a signature's exact count.
fn by_backbone_output(graph: &Graph, table: &'static [Signature]) -> Option<Detection> {
    let mut best: Option<(f32, NodeId, &'static Signature, Structure)> = None;
    for sig in table.iter().filter(|s| !s.include_top) {
        for node in output_candidates(graph, sig) {
            let set = NodeSet::ancestors(graph, node);
            if set.param_count() != sig.param_count {
                continue;
            }
            let structure = set.structure(sig);
            let score = structure.score();
            if score >= ACCEPT && best.as_ref().is_none_or(|b| score > b.0) {
                best = Some((score, node, sig, structure));
            }
        }
    }
    let (score, node, sig, structure) = best?;
    let scope = graph.nodes[node].scope;
    let mut evidence = vec![format!(
        "scope `{}` matches no signature; the {} parameters up to `{}` equal {}",
        scope_path(graph, scope),
        sig.param_count,
        graph.nodes[node].path,
        sig.id
    )];
    evidence.extend(structure.describe(sig));
    let include_top = has_head(graph, scope, sig.family, &mut evidence);
    Some(detection(
        graph,
        sig,
        scope,
        Some(sig.variant()),
        include_top,
        0.4 + 0.5 * score,
        evidence,
    ))
}

/// Route 3: full structural agreement with the signatures of one family, counts aside.
fn by_structure_only(graph: &Graph, table: &'static [Signature]) -> Option<Detection> {
    let mut fits: Vec<(&'static Signature, NodeId)> = Vec::new();
    for sig in table.iter().filter(|s| !s.include_top) {
        for node in output_candidates(graph, sig) {
            let structure = NodeSet::ancestors(graph, node).structure(sig);
            if structure.markers_found == structure.markers_total
                && structure.class_mismatches.is_empty()
            {
                fits.push((sig, node));
            }
        }
    }
    let (first, node) = *fits.first()?;
    if fits.iter().any(|(s, _)| s.family != first.family) {
        return None;
    }
    let variant = fits
        .iter()
        .all(|(s, _)| s.constructor == first.constructor)
        .then(|| first.constructor.to_string());
    let scope = graph.nodes[node].scope;
    let ids: Vec<&str> = fits.iter().map(|(s, _)| s.id).collect();
    let mut evidence = vec![
        format!(
            "no parameter count matches; the layers up to `{}` carry every marker and the \
             exact layer class counts of {}",
            graph.nodes[node].path,
            ids.join(", ")
        ),
        "variant not in the signature table (width, classes or input channels differ)".into(),
    ];
    let include_top = has_head(graph, scope, first.family, &mut evidence);
    Some(detection(
        graph,
        first,
        scope,
        variant,
        include_top,
        STRUCTURE_ONLY_CONFIDENCE,
        evidence,
    ))
}

/// First-call nodes named like the signature's output layer.
fn output_candidates<'a>(
    graph: &'a Graph,
    sig: &'a Signature,
) -> impl Iterator<Item = NodeId> + 'a {
    graph
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.call_index == 0 && name_matches(sig.output_layer, &n.name))
        .map(|(i, _)| i)
}

/// Whether every head layer of `family` is in `scope` (with its nested models); notes it.
fn has_head(graph: &Graph, scope: ScopeId, family: &str, evidence: &mut Vec<String>) -> bool {
    let head = family_info(family).map_or(&[][..], |f| f.head_layers);
    let set = NodeSet::scope(graph, scope);
    let present = !head.is_empty() && head.iter().all(|h| set.has_name(h));
    if present {
        evidence.push(format!("classifier head present ({})", head.join(", ")));
    }
    present
}

fn scope_path(graph: &Graph, scope: ScopeId) -> &str {
    graph.scopes.get(scope).map_or("", |s| s.path.as_str())
}

fn detection(
    graph: &Graph,
    sig: &'static Signature,
    scope: ScopeId,
    variant: Option<String>,
    include_top: bool,
    confidence: f32,
    evidence: Vec<String>,
) -> Detection {
    Detection {
        family: sig.family,
        variant,
        signature: Some(sig.id),
        scope: scope_path(graph, scope).to_string(),
        nested: scope != 0,
        include_top,
        preprocessing: sig.preprocessing,
        confidence: confidence.clamp(0.0, 1.0),
        evidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_graph::GraphBuilder;
    use keras_import::Op;

    macro_rules! sig {
        ($id:literal, $family:literal, $stem:literal) => {
            Signature {
                id: $id,
                keras_major: 3,
                family: $family,
                constructor: $id,
                args: "",
                include_top: false,
                input_shape: [Some(8), Some(8), Some(3)],
                param_count: 10,
                trainable_param_count: 10,
                non_trainable_param_count: 0,
                preprocessing: Preprocessing::Tf,
                output_layer: "{model}_out",
                markers: &[$stem],
                class_counts: &[("Conv2D", 2)],
            }
        };
    }

    /// Two signatures with the same parameter count: only the markers tell them apart.
    static COLLIDING: &[Signature] = &[
        sig!("alpha_net", "alpha", "alpha_stem"),
        sig!("beta_net", "beta", "beta_stem"),
    ];

    fn conv() -> Op {
        Op::Identity
    }

    /// input -> <prefix>_stem (Conv2D, stem params) -> <prefix>_out (Conv2D, 5) [-> head (3)]
    fn backbone(b: &mut GraphBuilder, prefix: &str, scope: ScopeId, stem: usize) -> NodeId {
        let input = b.node(
            &format!("{prefix}_input"),
            "InputLayer",
            Op::Input,
            scope,
            &[],
            0,
        );
        let s = b.node(
            &format!("{prefix}_stem"),
            "Conv2D",
            conv(),
            scope,
            &[input],
            stem,
        );
        b.node(&format!("{prefix}_out"), "Conv2D", conv(), scope, &[s], 5)
    }

    #[test]
    fn collision_is_resolved_by_structure() {
        let mut b = GraphBuilder::new();
        backbone(&mut b, "beta", 0, 5);
        let d = detect_in(&b.graph, COLLIDING).expect("detected");
        assert_eq!((d.family, d.confidence), ("beta", 1.0));
        assert_eq!(d.scope, "");
        assert!(d.evidence.iter().any(|e| e.contains("alpha_net")), "{d:?}");
    }

    #[test]
    fn hand_built_model_with_a_matching_count_is_not_detected() {
        let mut b = GraphBuilder::new();
        let input = b.node("input", "InputLayer", Op::Input, 0, &[], 0);
        let c = b.node("my_conv", "Conv2D", conv(), 0, &[input], 5);
        b.node("my_out", "Conv2D", conv(), 0, &[c], 5);
        assert_eq!(detect_in(&b.graph, COLLIDING), None);
        assert_eq!(detect(&b.graph), None);
    }

    #[test]
    fn nested_backbone_is_found_by_scope_count() {
        let mut b = GraphBuilder::new();
        let inner = b.scope("alpha_model", 0);
        let input = b.node("input", "InputLayer", Op::Input, 0, &[], 0);
        let out = backbone(&mut b, "alpha", inner, 5);
        b.graph.nodes[out - 2].inputs = vec![input];
        b.node("head", "Dense", conv(), 0, &[out], 3);
        let d = detect_in(&b.graph, COLLIDING).expect("detected");
        assert_eq!(
            (d.family, d.scope.as_str(), d.nested),
            ("alpha", "alpha_model", true)
        );
        assert_eq!(d.confidence, 1.0);
    }

    #[test]
    fn flattened_backbone_is_found_by_its_output_layer() {
        let mut b = GraphBuilder::new();
        let out = backbone(&mut b, "alpha", 0, 5);
        b.node("head", "Dense", conv(), 0, &[out], 3);
        let d = detect_in(&b.graph, COLLIDING).expect("detected");
        assert_eq!((d.family, d.scope.as_str(), d.nested), ("alpha", "", false));
        assert!((d.confidence - 0.9).abs() < 1e-6, "{d:?}");
        assert!(!d.include_top);
    }

    #[test]
    fn unknown_width_is_found_by_structure_with_low_confidence() {
        let mut b = GraphBuilder::new();
        let out = backbone(&mut b, "alpha", 0, 7);
        b.node("head", "Dense", conv(), 0, &[out], 3);
        let d = detect_in(&b.graph, COLLIDING).expect("detected");
        assert_eq!(d.family, "alpha");
        assert_eq!(d.variant.as_deref(), Some("alpha_net"));
        assert_eq!(d.confidence, STRUCTURE_ONLY_CONFIDENCE);
    }
}
