//! A tiny graph builder for the unit tests.

use keras_import::{Graph, Node, NodeId, Op, Scope, ScopeId, Weight};

/// Builds a [`Graph`] node by node.
pub(crate) struct GraphBuilder {
    pub(crate) graph: Graph,
}

impl GraphBuilder {
    /// A graph with the outer scope only.
    pub(crate) fn new() -> Self {
        let mut graph = Graph::default();
        graph.scopes.push(scope("", None));
        GraphBuilder { graph }
    }

    /// Adds a nested scope named `path` inside `parent`.
    pub(crate) fn scope(&mut self, path: &str, parent: ScopeId) -> ScopeId {
        self.graph.scopes.push(scope(path, Some(parent)));
        self.graph.scopes.len() - 1
    }

    /// Adds a node with one weight of `params` scalars (none if 0); returns its id.
    pub(crate) fn node(
        &mut self,
        name: &str,
        class_name: &str,
        op: Op,
        scope: ScopeId,
        inputs: &[NodeId],
        params: usize,
    ) -> NodeId {
        let mut weights = Vec::new();
        if params > 0 {
            self.graph.weights.push(Weight {
                name: format!("{name}/kernel"),
                shape: vec![params],
                data: Vec::new(),
                trainable: true,
            });
            weights.push(self.graph.weights.len() - 1);
        }
        self.graph.nodes.push(Node {
            path: name.to_string(),
            name: name.to_string(),
            call_index: 0,
            class_name: class_name.to_string(),
            scope,
            op: op.clone(),
            inputs: inputs.to_vec(),
            output_shape: Vec::new(),
            weights,
        });
        let id = self.graph.nodes.len() - 1;
        if op == Op::Input && scope == 0 {
            self.graph.inputs.push(id);
        }
        id
    }
}

fn scope(path: &str, parent: Option<ScopeId>) -> Scope {
    Scope {
        path: path.to_string(),
        name: path.to_string(),
        class_name: "Functional".to_string(),
        parent,
        input_shape: Vec::new(),
        output_shape: Vec::new(),
    }
}
