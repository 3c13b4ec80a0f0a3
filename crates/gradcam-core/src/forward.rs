//! The forward pass: runs a plan's steps in topological order on an NHWC batch, the target
//! activations becoming the only tracked variables. Values are dropped as soon as their last
//! reader has run.

use candle_core::{Tensor, Var};
use keras_import::NodeId;

use crate::error::{CamError, ErrorKind, Result};
use crate::layers::conv::residual;
use crate::layers::conv::Conv2d;
use crate::layers::depthwise::expansion::{self, ExpansionStep};
use crate::layers::depthwise::Depthwise;
use crate::layers::Evaluated;
use crate::network::Network;
use crate::plan::{Plan, Run, Step};
use crate::saliency::guided_relu::{self, ReluBackward};

/// What a forward pass hands back.
pub(crate) struct Forward {
    /// Logits `[N, K]`.
    pub logits: Tensor,
    /// Model output `[N, K]`.
    pub output: Tensor,
    /// The target activation as the only tracked variable, when one was requested.
    pub target: Option<Var>,
    /// The values of the nodes asked to be kept, in the order asked.
    pub kept: Vec<Tensor>,
}

/// Per-pass marks of nodes whose work another node did (decided by the input at hand).
struct Marks {
    /// Expansion convolutions left to the depthwise convolution that reads them.
    deferred: Vec<bool>,
    /// Residual sums finished by the convolution that feeds them.
    summed: Vec<bool>,
}

/// The values of one pass.
struct Pass<'a> {
    plan: &'a Plan,
    relu: ReluBackward,
    values: Vec<Option<Tensor>>,
    marks: Marks,
}

/// `(x − x)` sums to exactly 0 iff every element is finite.
fn all_finite(t: &Tensor) -> Result<bool> {
    let z = t.detach().sub(&t.detach())?.sum_all()?.to_scalar::<f32>()?;
    Ok(z == 0.0)
}

/// `t` as `[N, rest]`.
fn per_image(t: &Tensor) -> Result<Tensor> {
    let n = t.dim(0)?;
    Ok(t.reshape((n, t.elem_count() / n.max(1)))?)
}

fn as_kernel<T: 'static>(run: &Run) -> Option<&T> {
    let any: &dyn std::any::Any = run.kernel.as_ref();
    any.downcast_ref::<T>()
}

impl Network {
    /// Runs the graph on `x`; `target` (if any) becomes the only tracked variable.
    pub(crate) fn forward(&self, x: &Tensor, target: Option<NodeId>) -> Result<Forward> {
        self.forward_pass(x, target, &[], ReluBackward::Exact)
    }

    /// [`Network::forward`] with ReLU activations passing gradients back by `relu`'s rule.
    pub(crate) fn forward_with(
        &self,
        x: &Tensor,
        target: Option<NodeId>,
        relu: ReluBackward,
    ) -> Result<Forward> {
        self.forward_pass(x, target, &[], relu)
    }

    /// Like [`Network::forward`], also handing back the values of the nodes in `keep` (their
    /// own values: the plan undoes every fold that would hide them).
    pub(crate) fn forward_keeping(
        &self,
        x: &Tensor,
        target: Option<NodeId>,
        keep: &[NodeId],
    ) -> Result<Forward> {
        self.forward_pass(x, target, keep, ReluBackward::Exact)
    }

    /// The pass behind the three above; a non-finite output is traced to its first layer.
    fn forward_pass(
        &self,
        x: &Tensor,
        target: Option<NodeId>,
        keep: &[NodeId],
        relu: ReluBackward,
    ) -> Result<Forward> {
        let mut targets: Vec<NodeId> = target.into_iter().collect();
        targets.extend_from_slice(keep);
        let plan = self.plan(&targets)?;
        let run = |check| self.forward_checked(&plan, x, (target, keep, relu), check);
        match run(false) {
            Ok(f) if all_finite(&f.logits)? && all_finite(&f.output)? => Ok(f),
            Ok(_) => {
                // Rerun with a check after every node to name the first layer that goes bad.
                run(true)?;
                Err(CamError::new(
                    ErrorKind::NonFinite,
                    "the model output contains NaN or Inf",
                ))
            }
            Err(e) => Err(e),
        }
    }

    fn forward_checked(
        &self,
        plan: &Plan,
        x: &Tensor,
        (target, keep, relu): (Option<NodeId>, &[NodeId], ReluBackward),
        check: bool,
    ) -> Result<Forward> {
        let nodes = &self.skeleton.nodes;
        let mut pass = Pass {
            plan,
            relu,
            values: vec![None; nodes.len()],
            marks: Marks {
                deferred: vec![false; nodes.len()],
                summed: vec![false; nodes.len()],
            },
        };
        let (mut var, mut logits) = (None, None);
        for (id, node) in nodes.iter().enumerate() {
            let Some((value, pre)) = self
                .run_step(id, x, &mut pass)
                .map_err(|e| e.in_layer(&node.path))?
            else {
                continue;
            };
            if id == self.head.logits_node {
                logits = Some(if self.head.fused { pre } else { value.clone() });
            }
            let value = if target == Some(id) {
                let v = Var::from_tensor(&value.detach())?;
                let t = v.as_tensor().clone();
                var = Some(v);
                t
            } else {
                value
            };
            if check && !all_finite(&value)? {
                return Err(CamError::at(
                    ErrorKind::NonFinite,
                    &node.path,
                    "the first NaN or Inf of the forward pass appears in this layer's output",
                ));
            }
            pass.values[id] = Some(value);
            for &i in &node.inputs {
                if self.last_use[i] == id && target != Some(i) && !keep.contains(&i) {
                    pass.values[i] = None;
                }
            }
        }
        let output = pass.values[self.head.output_node].as_ref();
        let logits = logits.or_else(|| pass.values[self.head.logits_node].clone());
        let missing = || CamError::new(ErrorKind::InvalidGraph, "the output was not computed");
        let kept = keep
            .iter()
            .map(|&k| pass.values[k].clone().ok_or_else(missing))
            .collect::<Result<Vec<_>>>()?;
        Ok(Forward {
            logits: per_image(&logits.ok_or_else(missing)?)?,
            output: per_image(output.ok_or_else(missing)?)?,
            target: var,
            kept,
        })
    }

    /// Computes node `id` as its plan step says; returns its value and its value before the
    /// fused activation, or `None` when the plan skips it.
    fn run_step(
        &self,
        id: NodeId,
        x: &Tensor,
        pass: &mut Pass<'_>,
    ) -> Result<Option<(Tensor, Tensor)>> {
        let run = match &pass.plan.steps[id] {
            Step::Skip => return Ok(None),
            Step::Input => return Ok(Some((x.clone(), x.clone()))),
            Step::PassOn => {
                let v = self.input_values(id, pass)?.into_iter().next();
                let v =
                    v.ok_or_else(|| CamError::new(ErrorKind::InvalidGraph, "node has no input"))?;
                return Ok(Some((v.clone(), v)));
            }
            Step::Run(run) => run,
        };
        let inputs = self.input_values(id, pass)?;
        let e = match self.shortcut(id, run, &inputs, pass)? {
            Some(v) => Evaluated::linear(v),
            None => self.evaluate(id, run, &inputs, pass)?,
        };
        let value = guided_relu::activate(&e.pre, e.activation, pass.relu)?;
        Ok(Some((value, e.pre)))
    }

    /// The value of a node whose work another node does in this pass: an expansion left to
    /// its depthwise convolution passes its input on (and is marked deferred); a sum finished
    /// by a convolution passes that convolution's value on; a convolution that finishes a
    /// residual sum returns the sum (and marks it).
    fn shortcut(
        &self,
        id: NodeId,
        run: &Run,
        inputs: &[Tensor],
        pass: &mut Pass<'_>,
    ) -> Result<Option<Tensor>> {
        let conv = as_kernel::<Conv2d>(run);
        if let (true, Some(conv)) = (run.may_defer, conv) {
            if expansion::pays(conv, &inputs[0])? {
                pass.marks.deferred[id] = true;
                return Ok(Some(inputs[0].clone()));
            }
        }
        if let (true, Some(side)) = (pass.marks.summed[id], run.summed_side) {
            return Ok(Some(inputs[side].clone()));
        }
        let (Some((sum, activation)), Some(conv)) = (&run.residual, conv) else {
            return Ok(None);
        };
        let Some(other) = pass.values[sum.other].as_ref() else {
            return Ok(None);
        };
        let pad = run.fusion.pad;
        let finished = residual::finish(conv, &inputs[0], other, pad, *activation)?;
        if finished.is_some() {
            pass.marks.summed[sum.sum] = true;
        }
        Ok(finished)
    }

    /// Runs `run`'s kernel, computing first the expansion it was left (when deferred).
    fn evaluate(
        &self,
        id: NodeId,
        run: &Run,
        inputs: &[Tensor],
        pass: &Pass<'_>,
    ) -> Result<Evaluated> {
        let deferred = run.expansion.filter(|&conv| pass.marks.deferred[conv]);
        let (Some(conv), Some(dw)) = (deferred, as_kernel::<Depthwise>(run)) else {
            return run.kernel.evaluate(inputs, &run.fusion);
        };
        let Step::Run(expansion_run) = &pass.plan.steps[conv] else {
            return Err(CamError::new(
                ErrorKind::InvalidGraph,
                "a deferred expansion has no kernel",
            ));
        };
        let conv_kernel = as_kernel::<Conv2d>(expansion_run).ok_or_else(|| {
            CamError::new(
                ErrorKind::InvalidGraph,
                format!("node {id}'s expansion is not a convolution"),
            )
        })?;
        let step = ExpansionStep {
            conv: conv_kernel,
            fusion: expansion_run.fusion,
        };
        expansion::evaluate_after(&step, dw, &inputs[0], &run.fusion)
    }

    /// The values of node `id`'s inputs.
    fn input_values(&self, id: NodeId, pass: &Pass<'_>) -> Result<Vec<Tensor>> {
        self.skeleton.nodes[id]
            .inputs
            .iter()
            .map(|&i| {
                pass.values[i].clone().ok_or_else(|| {
                    CamError::new(
                        ErrorKind::InvalidGraph,
                        format!("input node {i} has no value"),
                    )
                })
            })
            .collect()
    }
}

/// What the layers after a target layer read: the nodes after it, and the values of the
/// nodes before it that they also read (the frontier, e.g. a skip connection around the
/// target), taken from one image's full pass.
pub(crate) struct Tail {
    /// The target node.
    target: NodeId,
    /// Nodes the output depends on through the target.
    after: Vec<bool>,
    /// Frontier nodes with their value for the image (`[1, …]`).
    frontier: Vec<(NodeId, Tensor)>,
}

/// `t` (`[1, …]`) repeated `b` times along the batch axis.
fn repeat_batch(t: &Tensor, b: usize) -> Result<Tensor> {
    let mut reps = vec![1usize; t.rank()];
    reps[0] = b;
    Ok(t.repeat(reps)?)
}

impl Network {
    /// The nodes after `target` on the output path, and the frontier nodes they read.
    fn tail_nodes(&self, target: NodeId) -> (Vec<bool>, Vec<NodeId>) {
        let nodes = &self.skeleton.nodes;
        let mut after = vec![false; nodes.len()];
        let mut frontier = Vec::new();
        for (id, node) in nodes.iter().enumerate().skip(target + 1) {
            after[id] =
                self.output_depends_on(id) && node.inputs.iter().any(|&i| i == target || after[i]);
            if after[id] {
                let outside = node.inputs.iter().filter(|&&i| i != target && !after[i]);
                frontier.extend(outside);
            }
        }
        frontier.sort_unstable();
        frontier.dedup();
        (after, frontier)
    }

    /// Prepares passes that start at `target` for the one image `x` (`[1, H, W, C]`): one
    /// full pass when the layers after the target also read earlier values, none otherwise.
    pub(crate) fn tail(&self, x: &Tensor, target: NodeId) -> Result<Tail> {
        let (after, ids) = self.tail_nodes(target);
        let frontier = if ids.is_empty() {
            Vec::new()
        } else {
            let kept = self.forward_keeping(x, Some(target), &ids)?.kept;
            ids.into_iter().zip(kept).collect()
        };
        Ok(Tail {
            target,
            after,
            frontier,
        })
    }

    /// Logits `[B, K]` of the layers after the target run on the target activations
    /// `[B, h, w, k]` (the frontier values repeated for each of the `B` copies).
    pub(crate) fn forward_tail(&self, tail: &Tail, activations: &Tensor) -> Result<Tensor> {
        let b = activations.dim(0)?;
        let nodes = &self.skeleton.nodes;
        let mut targets = vec![tail.target];
        targets.extend(tail.frontier.iter().map(|(id, _)| *id));
        let plan = self.plan(&targets)?;
        let mut pass = Pass {
            plan: &plan,
            relu: ReluBackward::Exact,
            values: vec![None; nodes.len()],
            marks: Marks {
                deferred: vec![false; nodes.len()],
                summed: vec![false; nodes.len()],
            },
        };
        pass.values[tail.target] = Some(activations.clone());
        for (id, value) in &tail.frontier {
            pass.values[*id] = Some(repeat_batch(value, b)?);
        }
        let mut logits = None;
        for (id, node) in nodes.iter().enumerate().skip(tail.target + 1) {
            if !tail.after[id] {
                continue;
            }
            let step = self.run_step(id, activations, &mut pass);
            let Some((value, pre)) = step.map_err(|e| e.in_layer(&node.path))? else {
                continue;
            };
            if id == self.head.logits_node {
                logits = Some(if self.head.fused { pre } else { value.clone() });
            }
            pass.values[id] = Some(value);
            for &i in &node.inputs {
                if self.last_use[i] == id {
                    pass.values[i] = None;
                }
            }
        }
        let logits = logits.ok_or_else(|| {
            CamError::new(
                ErrorKind::InvalidGraph,
                "the logits do not come after the target layer",
            )
        })?;
        let logits = per_image(&logits)?;
        if !all_finite(&logits)? {
            return Err(CamError::new(
                ErrorKind::NonFinite,
                "the logits of a modified target activation contain NaN or Inf",
            ));
        }
        Ok(logits)
    }
}
