//! Questions every reader of a [`Graph`] asks — who reads a node, what a node depends on,
//! which scopes nest in which, which weight plays which role — answered once here so the
//! importer, the backbone detector and the executor share one walk of each kind.

use crate::graph::layers::rules;
use crate::ir::{Graph, Node, NodeId, ScopeId, Weight, WeightRole};

/// The index of Keras axis `axis` in a tensor of rank `rank` (batch included): a negative
/// axis counts from the end, as in Keras and numpy. `None` when it is out of range.
///
/// ```
/// assert_eq!(keras_import::normalize_axis(-1, 4), Some(3));
/// assert_eq!(keras_import::normalize_axis(1, 4), Some(1));
/// assert_eq!(keras_import::normalize_axis(4, 4), None);
/// assert_eq!(keras_import::normalize_axis(-5, 4), None);
/// ```
pub fn normalize_axis(axis: i64, rank: usize) -> Option<usize> {
    let rank = i64::try_from(rank).ok()?;
    let index = if axis < 0 {
        axis.checked_add(rank)?
    } else {
        axis
    };
    (0..rank)
        .contains(&index)
        .then(|| usize::try_from(index).ok())
        .flatten()
}

impl Graph {
    /// The readers of every node, indexed by [`NodeId`]: a node reading another twice (`x · x`)
    /// is listed twice, once per input edge, in graph order.
    pub fn consumers(&self) -> Vec<Vec<NodeId>> {
        let mut readers = vec![Vec::new(); self.nodes.len()];
        for (id, node) in self.nodes.iter().enumerate() {
            for &input in &node.inputs {
                if let Some(list) = readers.get_mut(input) {
                    list.push(id);
                }
            }
        }
        readers
    }

    /// Marks, indexed by [`NodeId`], every node that `roots` depend on, the roots included.
    /// Ids out of range are ignored.
    pub fn ancestors(&self, roots: &[NodeId]) -> Vec<bool> {
        self.reach(roots, |_| true)
    }

    /// Like [`Graph::ancestors`], but the walk never leaves `scope` and the models nested in
    /// it: a nested backbone's layers without the enclosing model's layers in front of it.
    /// The roots are marked wherever they are.
    pub fn ancestors_within(&self, roots: &[NodeId], scope: ScopeId) -> Vec<bool> {
        let inside = self.scopes_within(scope);
        self.reach(roots, |node| {
            inside.get(node.scope).copied().unwrap_or(false)
        })
    }

    /// Marks the roots and every node reachable from them through inputs that `enter` accepts.
    fn reach(&self, roots: &[NodeId], enter: impl Fn(&Node) -> bool) -> Vec<bool> {
        let mut seen = vec![false; self.nodes.len()];
        let mut stack: Vec<NodeId> = roots.iter().copied().filter(|&r| r < seen.len()).collect();
        for &root in &stack {
            seen[root] = true;
        }
        while let Some(id) = stack.pop() {
            for &input in &self.nodes[id].inputs {
                let accepted = self.nodes.get(input).is_some_and(&enter);
                if accepted && !seen[input] {
                    seen[input] = true;
                    stack.push(input);
                }
            }
        }
        seen
    }

    /// Whether `scope` is `ancestor` or nested in it at any depth. Unknown scopes are inside
    /// nothing, and a malformed parent cycle ends the walk.
    pub fn scope_contains(&self, ancestor: ScopeId, scope: ScopeId) -> bool {
        let mut current = scope;
        // A chain longer than the number of scopes can only be a cycle.
        for _ in 0..=self.scopes.len() {
            if current == ancestor {
                return current < self.scopes.len();
            }
            match self.scopes.get(current).and_then(|s| s.parent) {
                Some(parent) => current = parent,
                None => return false,
            }
        }
        false
    }

    /// Marks, indexed by [`ScopeId`], `root` and every scope nested in it.
    pub fn scopes_within(&self, root: ScopeId) -> Vec<bool> {
        (0..self.scopes.len())
            .map(|scope| self.scope_contains(root, scope))
            .collect()
    }

    /// The nodes of `root` and of the models nested in it, in graph order.
    pub fn nodes_in_scope(&self, root: ScopeId) -> Vec<NodeId> {
        let inside = self.scopes_within(root);
        (0..self.nodes.len())
            .filter(|&id| inside.get(self.nodes[id].scope).copied().unwrap_or(false))
            .collect()
    }

    /// The weight of `node` that plays `role` (`Kernel`, `Bias`, `MovingMean` ...), `None`
    /// when the node's op has no such weight (a BatchNormalization with `scale = false` has no
    /// `Gamma`).
    ///
    /// The roles of an op, and their order in [`Node::weights`], come from the same layer
    /// description that named and shaped the weights when they were bound at import, so a
    /// reader never repeats Keras' variable order. A node whose weight count differs from its
    /// op's layout (a hand-built graph that got it wrong) answers `None` for every role.
    pub fn weight(&self, node: &Node, role: WeightRole) -> Option<&Weight> {
        let layout = rules(&node.op).weights();
        if layout.len() != node.weights.len() {
            return None;
        }
        let index = layout.iter().position(|w| w.role == role)?;
        self.weights.get(node.weights[index])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Op, Scope};

    /// A Sequential model of `layers` (JSON layer objects) on an 8×8×4 input, written by
    /// Keras `version`.
    fn sequential(version: &str, layers: &str) -> Graph {
        let json = format!(
            r#"{{"class_name": "Sequential", "keras_version": "{version}",
                "config": {{"name": "m", "layers": [
                    {{"class_name": "InputLayer",
                      "config": {{"name": "x", "batch_input_shape": [null, 8, 8, 4]}}}},
                    {layers}]}}}}"#
        );
        crate::graph_from_config_json(&json, "m.json").expect("the test model builds")
    }

    /// The names of `node`'s weights of the given roles, `None` where it has none.
    fn names(graph: &Graph, node: &Node, roles: &[WeightRole]) -> Vec<Option<String>> {
        roles
            .iter()
            .map(|&role| Some(graph.weight(node, role)?.name.clone()))
            .collect()
    }

    #[test]
    fn batch_norm_without_scale_has_no_gamma() {
        let g = sequential(
            "3.3.3",
            r#"{"class_name": "BatchNormalization", "config": {"name": "bn", "scale": false}}"#,
        );
        let bn = &g.nodes[g.node_by_path("bn").unwrap()];
        use WeightRole::*;
        assert_eq!(
            names(&g, bn, &[Gamma, Beta, MovingMean, MovingVariance]),
            [
                None,
                Some("bn/beta"),
                Some("bn/moving_mean"),
                Some("bn/moving_variance")
            ]
            .map(|n| n.map(String::from))
        );
    }

    #[test]
    fn depthwise_kernel_has_one_role_in_both_dialects() {
        let layer = r#"{"class_name": "DepthwiseConv2D",
            "config": {"name": "dw", "kernel_size": [3, 3], "use_bias": false}}"#;
        for (version, name) in [("2.15.0", "dw/depthwise_kernel"), ("3.3.3", "dw/kernel")] {
            let g = sequential(version, layer);
            let dw = &g.nodes[g.node_by_path("dw").unwrap()];
            assert_eq!(
                names(&g, dw, &[WeightRole::Kernel, WeightRole::DepthwiseKernel]),
                [None, Some(name.to_string())],
                "Keras {version}"
            );
            assert_eq!(
                g.weight(dw, WeightRole::DepthwiseKernel).unwrap().shape,
                [3, 3, 4, 1]
            );
        }
    }

    #[test]
    fn a_node_with_weights_out_of_layout_answers_nothing() {
        let mut g = sequential(
            "3.3.3",
            r#"{"class_name": "Dense", "config": {"name": "d", "units": 2}}"#,
        );
        let d = g.node_by_path("d").unwrap();
        assert_eq!(g.weight(&g.nodes[d], WeightRole::Bias).unwrap().shape, [2]);
        g.nodes[d].weights.pop();
        assert!(g.weight(&g.nodes[d], WeightRole::Kernel).is_none());
    }

    #[test]
    fn multiply_adds_read_kernels_by_role() {
        let g = sequential(
            "3.3.3",
            r#"{"class_name": "Conv2D", "config": {"name": "c", "filters": 2,
                    "kernel_size": [3, 3], "padding": "same"}},
               {"class_name": "SeparableConv2D", "config": {"name": "s", "filters": 2,
                    "kernel_size": [3, 3], "padding": "same"}},
               {"class_name": "Conv2DTranspose", "config": {"name": "t", "filters": 3,
                    "kernel_size": [2, 2], "strides": [2, 2]}},
               {"class_name": "Dense", "config": {"name": "d", "units": 5}}"#,
        );
        // Per output position (input position for the transposed convolution) times the
        // kernel sizes: 64·72 + 64·(18 + 4) + 64·24 + 256·15.
        assert_eq!(g.multiply_adds(), 4608 + 1408 + 1536 + 3840);
    }

    /// Scope 0 ⊃ scope 1 ⊃ scope 2; nodes: 0 (scope 0) → 1 (scope 1) → 2, 3 (scope 2), and
    /// 4 = 2 · 2 (scope 0).
    fn nested() -> Graph {
        let scope = |parent| Scope {
            path: String::new(),
            name: String::new(),
            class_name: "Functional".into(),
            parent,
            input_shape: Vec::new(),
            output_shape: Vec::new(),
        };
        let node = |scope, inputs: &[NodeId]| Node {
            path: String::new(),
            name: String::new(),
            call_index: 0,
            class_name: String::new(),
            scope,
            op: Op::Identity,
            inputs: inputs.to_vec(),
            output_shape: Vec::new(),
            weights: Vec::new(),
        };
        Graph {
            nodes: vec![
                node(0, &[]),
                node(1, &[0]),
                node(2, &[1]),
                node(2, &[1]),
                node(0, &[2, 2]),
            ],
            scopes: vec![scope(None), scope(Some(0)), scope(Some(1))],
            ..Graph::default()
        }
    }

    #[test]
    fn consumers_and_ancestors() {
        let g = nested();
        assert_eq!(
            g.consumers(),
            [vec![1], vec![2, 3], vec![4, 4], vec![], vec![]]
        );
        assert_eq!(g.ancestors(&[4]), [true, true, true, false, true]);
        assert_eq!(g.ancestors(&[3, 99]), [true, true, false, true, false]);
        assert_eq!(
            g.ancestors_within(&[2], 1),
            [false, true, true, false, false]
        );
    }

    #[test]
    fn scope_walks() {
        let mut g = nested();
        assert!(g.scope_contains(0, 2) && g.scope_contains(1, 2) && g.scope_contains(2, 2));
        assert!(!g.scope_contains(2, 1) && !g.scope_contains(1, 7));
        assert_eq!(g.scopes_within(1), [false, true, true]);
        assert_eq!(g.nodes_in_scope(1), [1, 2, 3]);
        g.scopes[0].parent = Some(2);
        assert!(!g.scope_contains(5, 2), "a parent cycle ends the walk");
    }
}
