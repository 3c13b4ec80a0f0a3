//! Fusion as a plan. At load, each fusion rule (beside the layers it fuses: `layers/conv/
//! fold_*.rs`, `layers/conv/residual.rs`, `layers/depthwise/expansion.rs`) finds where it
//! applies ([`Fusions`]). For each set of Grad-CAM targets, a [`Plan`] then says once what
//! every node does: nothing (not needed), pass its input on (a layer another kernel applies),
//! or run its kernel with the activation and padding folded into it, possibly finishing a
//! residual sum or computing the expansion before it. A fold is undone in a plan whose target
//! is a layer inside it, whose own value is then needed. Plans are cached by target set.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use keras_import::{Activation, Graph, NodeId};

use crate::cpu::Epilogue;
use crate::error::Result;
use crate::layers::conv::fold_activation::{self, ActivationFolds};
use crate::layers::conv::fold_batch_norm::{self, BatchNormFolds};
use crate::layers::conv::fold_padding::{self, PaddingFolds};
use crate::layers::conv::residual::{self, EarlierFolds, ResidualSum};
use crate::layers::conv::Conv2d;
use crate::layers::depthwise::expansion::{self, ChainFolds, ExpansionFolds};
use crate::layers::{Fusion, Kernel};

/// Where every fusion rule applies in one graph, found once at load.
pub(crate) struct Fusions {
    /// BatchNormalization layers folded into the convolutions before them (already applied
    /// to the prepared kernels).
    pub batch_norms: BatchNormFolds,
    /// Activation layers folded into the kernels before them.
    pub activations: ActivationFolds,
    /// ZeroPadding2D layers folded into the convolutions reading them.
    pub paddings: PaddingFolds,
    /// 1×1 expansions computed inside the depthwise convolutions reading them.
    pub expansions: ExpansionFolds,
    /// For a convolution: the residual sum its kernel can finish.
    pub residuals: Vec<Option<ResidualSum>>,
    /// For such a residual sum: the convolution that can finish it.
    finishers: Vec<Option<NodeId>>,
}

impl Fusions {
    /// Finds every fusion of `graph`, folding BatchNormalization layers into `kernels`; the
    /// nodes in `keep` (the classifier head) are never fused away. Large 1×1 kernels are then
    /// laid out as panels, except expansions (which a depthwise kernel reads as rows).
    pub fn find(
        graph: &Graph,
        kernels: &mut [Box<dyn Kernel>],
        keep: &[NodeId],
    ) -> Result<Fusions> {
        let consumers = graph.consumers();
        let pinned = |id: NodeId| graph.outputs.contains(&id) || keep.contains(&id);
        let batch_norms = fold_batch_norm::fold(graph, &consumers, kernels);
        let activations = fold_activation::find(graph, &consumers, &batch_norms, pinned);
        let paddings = fold_padding::find(graph, &consumers, pinned);
        let chain_folds = ChainFolds {
            batch_norms: &batch_norms,
            activations: &activations,
            paddings: &paddings,
        };
        let expansions = expansion::find(graph, &consumers, &chain_folds, pinned);
        let earlier = EarlierFolds {
            batch_norms: &batch_norms,
            activations: &activations,
            expansions: &expansions,
        };
        let residuals = residual::find(graph, &consumers, &earlier, pinned);
        let mut finishers = vec![None; graph.nodes.len()];
        for (conv, r) in residuals.iter().enumerate() {
            if let Some(r) = r {
                finishers[r.sum] = Some(conv);
            }
        }
        for (id, kernel) in kernels.iter_mut().enumerate() {
            let any: &mut dyn std::any::Any = kernel.as_mut();
            if let Some(conv) = any.downcast_mut::<Conv2d>() {
                if !expansions.is_expansion(id) {
                    conv.arrange_panels()?;
                }
            }
        }
        Ok(Fusions {
            batch_norms,
            activations,
            paddings,
            expansions,
            residuals,
            finishers,
        })
    }
}

/// What one node does in a plan.
pub(crate) enum Step {
    /// Not needed for this plan's outputs and targets.
    Skip,
    /// The model input.
    Input,
    /// Applied by another node's kernel: its value is its input's.
    PassOn,
    /// Runs its kernel.
    Run(Run),
}

/// A node that runs its kernel.
pub(crate) struct Run {
    /// The kernel: the prepared one, or for a convolution targeted inside a BatchNormalization
    /// fold, the kernel with the fold undone.
    pub kernel: Arc<dyn Kernel>,
    /// Folded activation and padding, and whether the CPU kernels may apply them in place.
    pub fusion: Fusion,
    /// The residual sum this convolution finishes, with the activation folded into the sum.
    pub residual: Option<(ResidualSum, Activation)>,
    /// Whether this convolution is an expansion its depthwise reader may compute (when that
    /// pays for the input at hand).
    pub may_defer: bool,
    /// For a depthwise convolution: the expansion it computes when that was deferred.
    pub expansion: Option<NodeId>,
    /// For a residual sum: the input carrying its value when a convolution finished it.
    pub summed_side: Option<usize>,
}

/// What every node does for one set of targets.
pub(crate) struct Plan {
    /// One step per node, in topological order.
    pub steps: Vec<Step>,
}

/// What a plan is built from.
pub(crate) struct PlanInputs<'a> {
    /// The graph's structure.
    pub graph: &'a Graph,
    /// The prepared kernels.
    pub kernels: &'a [Arc<dyn Kernel>],
    /// The fusions found at load.
    pub fusions: &'a Fusions,
    /// Nodes the model output depends on.
    pub needed: &'a [bool],
    /// The model input node.
    pub input: NodeId,
    /// The node whose value is the logits (its activation is never applied in place).
    pub logits: NodeId,
}

impl PlanInputs<'_> {
    /// The plan for `targets`.
    pub fn plan(&self, targets: &[NodeId]) -> Result<Plan> {
        let steps = (0..self.graph.nodes.len())
            .map(|id| self.step(id, targets))
            .collect::<Result<Vec<_>>>()?;
        Ok(Plan { steps })
    }

    /// What node `id` does for `targets`.
    fn step(&self, id: NodeId, targets: &[NodeId]) -> Result<Step> {
        let f = self.fusions;
        if !self.needed[id] && !targets.contains(&id) {
            return Ok(Step::Skip);
        }
        if id == self.input {
            return Ok(Step::Input);
        }
        let passed_on = match (f.batch_norms.folded_into(id), f.activations.folded_into(id)) {
            (Some(conv), _) => !targets.contains(&conv),
            (_, Some(kernel)) => f.activations.applies(kernel, targets).is_some(),
            _ => f.paddings.passes_through(id, targets),
        };
        if passed_on {
            return Ok(Step::PassOn);
        }
        let kernel = if targets.contains(&id) {
            f.batch_norms.unfolded(id, self.kernels[id].as_ref())?
        } else {
            None
        };
        let kernel = kernel.map_or_else(|| self.kernels[id].clone(), Arc::from);
        Ok(Step::Run(Run {
            kernel,
            fusion: self.fusion(id, targets),
            residual: self.residual(id, targets),
            may_defer: f.expansions.may_defer(id, targets),
            expansion: f.expansions.of(id),
            summed_side: self.summed_side(id, targets),
        }))
    }

    /// How node `id` runs: the activation and padding folded into it.
    fn fusion(&self, id: NodeId, targets: &[NodeId]) -> Fusion {
        Fusion {
            activation: self.fusions.activations.applies(id, targets),
            fast: id != self.logits,
            pad: self.fusions.paddings.applied_by(id, targets),
        }
    }

    /// The residual sum convolution `id` finishes, with the sum's folded activation.
    fn residual(&self, id: NodeId, targets: &[NodeId]) -> Option<(ResidualSum, Activation)> {
        let r = self.fusions.residuals[id].as_ref()?;
        if !r.applies(targets) {
            return None;
        }
        let activation = self
            .fusions
            .activations
            .applies(r.sum, targets)
            .unwrap_or(Activation::Linear);
        Epilogue::of(activation).map(|_| (r.clone(), activation))
    }

    /// For a residual sum: the input carrying its value when a convolution finishes it.
    fn summed_side(&self, id: NodeId, targets: &[NodeId]) -> Option<usize> {
        let f = self.fusions;
        f.finishers[id]
            .and_then(|conv| f.residuals[conv].as_ref())
            .filter(|r| r.applies(targets))
            .map(|r| r.side)
    }
}

/// Plans built so far, by target set.
#[derive(Default)]
pub(crate) struct PlanCache(Mutex<HashMap<Vec<NodeId>, Arc<Plan>>>);

impl PlanCache {
    /// The plan for `targets`, built by `build` on first use.
    pub fn get(
        &self,
        targets: &[NodeId],
        build: impl FnOnce(&[NodeId]) -> Result<Plan>,
    ) -> Result<Arc<Plan>> {
        let mut key = targets.to_vec();
        key.sort_unstable();
        key.dedup();
        if let Some(plan) = self.lock().get(&key) {
            return Ok(plan.clone());
        }
        let plan = Arc::new(build(&key)?);
        self.lock().insert(key, plan.clone());
        Ok(plan)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<NodeId>, Arc<Plan>>> {
        // A panic while holding the lock cannot leave a half-inserted plan behind.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
