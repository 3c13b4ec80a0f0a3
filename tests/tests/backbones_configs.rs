//! Backbone detection on every keras.applications config of the corpus (`configs[]`, both
//! tops, every width, both Keras dialects): family, variant, include_top and preprocessing must
//! be exactly those the corpus recorded, and every parameter-count collision must be resolved.

use std::collections::BTreeMap;

use backbones::signatures::{COLLISIONS, SIGNATURES};
use backbones::{choose_preprocessing, detect, Detection};
use kerascam_tests::corpus;
use kerascam_tests::manifest::ConfigEntry;

/// Detects the backbone of one config entry and checks it against the manifest.
fn check_entry(dir: &std::path::Path, entry: &ConfigEntry) -> Result<Detection, String> {
    let id = entry.id.as_str();
    let text = corpus::read_config_text(&dir.join(&entry.config));
    let graph = keras_import::graph_from_config_json(&text, id).map_err(|e| e.to_string())?;
    let d = detect(&graph).ok_or("no backbone detected")?;
    let sig = SIGNATURES
        .iter()
        .find(|s| s.id == id)
        .ok_or("entry missing from the signature table: regenerate it")?;
    let constructor = &entry.variant.constructor;
    let expected_pre = entry.preprocessing.as_str();
    let chosen = choose_preprocessing(&graph, Some(&d));
    let mut problems = Vec::new();
    if d.family != entry.family {
        problems.push(format!("family {}", d.family));
    }
    if !constructor.ends_with(&format!(".{}", sig.constructor))
        || entry.param_count != sig.param_count
    {
        problems.push("signature table out of date with the manifest".into());
    }
    if d.variant.as_deref() != Some(sig.variant().as_str()) {
        problems.push(format!(
            "variant {:?}, expected {}",
            d.variant,
            sig.variant()
        ));
    }
    if d.include_top != entry.include_top {
        problems.push(format!("include_top {}", d.include_top));
    }
    if d.preprocessing.as_str() != expected_pre || chosen.as_str() != expected_pre {
        problems.push(format!(
            "preprocessing detected {} chosen {chosen}, expected {expected_pre}",
            d.preprocessing
        ));
    }
    if !d.scope.is_empty() || d.nested {
        problems.push(format!("scope `{}`", d.scope));
    }
    if problems.is_empty() {
        Ok(d)
    } else {
        Err(problems.join("; "))
    }
}

#[test]
fn every_config_is_recognised_with_its_family_variant_and_preprocessing() {
    let Some((dir, manifest)) = corpus::manifest() else {
        return;
    };
    let configs = &manifest.configs;
    assert_eq!(configs.len(), SIGNATURES.len(), "signature table size");
    let mut failures = Vec::new();
    let mut resolved: BTreeMap<String, &'static str> = BTreeMap::new();
    let mut lowest: Option<(f32, String)> = None;
    for entry in configs {
        let id = entry.id.clone();
        match check_entry(&dir, entry) {
            Ok(d) => {
                if lowest.as_ref().is_none_or(|(c, _)| d.confidence < *c) {
                    lowest = Some((d.confidence, id.clone()));
                }
                resolved.insert(id, d.signature.unwrap_or("-"));
            }
            Err(e) => failures.push(format!("{id}: {e}")),
        }
    }
    // Each collision group: every member detected with its own family and variant (checked
    // above) — list which signature each resolved to.
    for group in COLLISIONS {
        let members: Vec<String> = group
            .iter()
            .map(|id| format!("{id} -> {}", resolved.get(*id).copied().unwrap_or("FAILED")))
            .collect();
        println!("collision resolved: {}", members.join(", "));
        for id in *group {
            assert!(
                resolved.contains_key(*id),
                "collision member {id} unresolved"
            );
        }
    }
    println!(
        "backbones_configs: {} of {} configs recognised exactly, {} collision groups; lowest \
         confidence {:?}",
        resolved.len(),
        configs.len(),
        COLLISIONS.len(),
        lowest
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
