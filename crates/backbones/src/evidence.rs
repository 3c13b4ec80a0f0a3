//! Measurements on a set of graph nodes (a nested model, or everything a layer depends on):
//! parameter count and how well it matches a [`Signature`]'s structure.

use std::collections::HashSet;

use keras_import::{Graph, NodeId, ScopeId};

use crate::signatures::{name_matches, Signature};

/// A set of nodes of one graph, in graph order, call 0 of each layer only where counted.
pub(crate) struct NodeSet<'g> {
    graph: &'g Graph,
    members: Vec<NodeId>,
}

impl<'g> NodeSet<'g> {
    /// Every node of scope `root` and of the models nested in it.
    pub(crate) fn scope(graph: &'g Graph, root: ScopeId) -> Self {
        let members = graph.nodes_in_scope(root);
        NodeSet { graph, members }
    }

    /// `node` and every node it depends on, limited to the scope of `node` and the models
    /// nested in it (layers of an enclosing model in front of a nested backbone are excluded).
    pub(crate) fn ancestors(graph: &'g Graph, node: NodeId) -> Self {
        let members = match graph.nodes.get(node) {
            Some(start) => {
                let seen = graph.ancestors_within(&[node], start.scope);
                (0..graph.nodes.len()).filter(|&n| seen[n]).collect()
            }
            None => Vec::new(),
        };
        NodeSet { graph, members }
    }

    /// Number of scalar weights of the set's layers, each weight counted once (a layer called
    /// several times shares its weights), trainable or not, as `model.count_params()`.
    pub(crate) fn param_count(&self) -> u64 {
        let mut seen = HashSet::new();
        let mut total = 0u64;
        for &n in &self.members {
            for &w in &self.graph.nodes[n].weights {
                if seen.insert(w) {
                    if let Some(weight) = self.graph.weights.get(w) {
                        let size = weight
                            .shape
                            .iter()
                            .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64));
                        total = total.saturating_add(size.unwrap_or(u64::MAX));
                    }
                }
            }
        }
        total
    }

    /// Number of layers (first calls) of Keras class `class_name`.
    fn class_count(&self, class_name: &str) -> u32 {
        let count = self
            .members
            .iter()
            .map(|&n| &self.graph.nodes[n])
            .filter(|n| n.call_index == 0 && n.class_name == class_name)
            .count();
        u32::try_from(count).unwrap_or(u32::MAX)
    }

    /// Whether a layer name in the set matches `pattern` (see [`name_matches`]).
    pub(crate) fn has_name(&self, pattern: &str) -> bool {
        self.members
            .iter()
            .any(|&n| name_matches(pattern, &self.graph.nodes[n].name))
    }

    /// Compares the set's structure with `sig`.
    pub(crate) fn structure(&self, sig: &Signature) -> Structure {
        let markers_found = sig.markers.iter().filter(|m| self.has_name(m)).count();
        let mut class_mismatches = Vec::new();
        for &(class, expected) in sig.class_counts {
            let found = self.class_count(class);
            if found != expected {
                class_mismatches.push(format!("{class} {found} (expected {expected})"));
            }
        }
        Structure {
            markers_found,
            markers_total: sig.markers.len(),
            classes_total: sig.class_counts.len(),
            class_mismatches,
        }
    }
}

/// How a node set's structure compares with a signature.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Structure {
    /// Marker layer names found.
    pub markers_found: usize,
    /// Marker layer names of the signature.
    pub markers_total: usize,
    /// Evidence classes compared.
    pub classes_total: usize,
    /// The classes whose counts differ, as `Conv2D 14 (expected 15)`.
    pub class_mismatches: Vec<String>,
}

impl Structure {
    /// Agreement in `[0, 1]`: the mean of the marker fraction and the equal-class fraction.
    pub(crate) fn score(&self) -> f32 {
        let markers = ratio(self.markers_found, self.markers_total);
        let classes = ratio(
            self.classes_total - self.class_mismatches.len(),
            self.classes_total,
        );
        (markers + classes) / 2.0
    }

    /// Human-readable evidence lines.
    pub(crate) fn describe(&self, sig: &Signature) -> Vec<String> {
        let mut lines = vec![format!(
            "{}/{} marker layers of {} present",
            self.markers_found, self.markers_total, sig.id
        )];
        if self.class_mismatches.is_empty() {
            let counts: Vec<String> = sig
                .class_counts
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(c, n)| format!("{c} {n}"))
                .collect();
            lines.push(format!("layer class counts equal ({})", counts.join(", ")));
        } else {
            lines.push(format!(
                "layer class counts differ: {}",
                self.class_mismatches.join(", ")
            ));
        }
        lines
    }
}

fn ratio(part: usize, whole: usize) -> f32 {
    if whole == 0 {
        0.0
    } else {
        part as f32 / whole as f32
    }
}
