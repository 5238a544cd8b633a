//! The cluster state a document is judged against, which the document alone
//! cannot carry: an `_inventory.yaml` beside a case holds the Namespaces
//! (whose labels `namespaceSelector` reads) and any other objects a rule may
//! look up, for every case in that directory.

use super::{schema, Input, InputKind, LoadError};
use crate::limits::Limits;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// File next to a case that supplies the cluster objects for every case in
/// that directory. Its name does not start with `pass-` or `fail-`, so it is
/// never run as a case itself.
pub const INVENTORY_FILE: &str = "_inventory.yaml";

/// The objects of one `_inventory.yaml` (or none, when a directory has no such file).
#[derive(Debug, Default)]
pub struct Inventory {
    /// The file read, `None` when the directory has no inventory.
    path: Option<PathBuf>,
    objects: Vec<Value>,
    /// Labels of each `v1` Namespace, by name.
    namespaces: HashMap<String, Map<String, Value>>,
}

impl Inventory {
    /// Read an inventory file with the input loader's limits. Every document
    /// must be a Kubernetes object that fits its schema, and a Namespace may
    /// appear only once, so a typo cannot silently change what a selector sees.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let file = dir.path().join("_inventory.yaml");
    /// std::fs::write(&file, "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {tier: prod}}\n").unwrap();
    /// let inventory = verdict::input::inventory::Inventory::load(&file, &Default::default()).unwrap();
    /// assert_eq!(inventory.namespace_labels("shop").unwrap()["tier"], "prod");
    /// assert!(inventory.namespace_labels("elsewhere").is_none());
    /// ```
    pub fn load(file: &Path, limits: &Limits) -> Result<Inventory, LoadError> {
        let inputs = super::load_file(file, limits)?;
        let mut inventory = Inventory {
            path: Some(file.to_path_buf()),
            ..Inventory::default()
        };
        for input in inputs {
            if input.kind != InputKind::Manifest {
                return Err(at_document(
                    &input,
                    "an inventory holds only Kubernetes objects (apiVersion and kind)",
                ));
            }
            schema::validate_manifest(&input)?;
            if let Some(name) = namespace_name(&input.value) {
                let labels = input.value["metadata"]["labels"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                if inventory
                    .namespaces
                    .insert(name.to_string(), labels)
                    .is_some()
                {
                    return Err(at_document(
                        &input,
                        format!("Namespace {name:?} appears more than once"),
                    ));
                }
            }
            inventory.objects.push(input.value);
        }
        Ok(inventory)
    }

    /// The inventory file this came from; `None` when the directory has none.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Every object of the inventory, in file order.
    pub fn objects(&self) -> &[Value] {
        &self.objects
    }

    /// The labels of Namespace `name` (empty when it has none), or `None`
    /// when the inventory does not list that Namespace.
    pub fn namespace_labels(&self, name: &str) -> Option<&Map<String, Value>> {
        self.namespaces.get(name)
    }
}

/// `metadata.name` of a core `v1` Namespace.
fn namespace_name(object: &Value) -> Option<&str> {
    (object["apiVersion"] == "v1" && object["kind"] == "Namespace")
        .then(|| object["metadata"]["name"].as_str())
        .flatten()
}

fn at_document(input: &Input, message: impl std::fmt::Display) -> LoadError {
    LoadError {
        path: input.path.clone(),
        line: input.line,
        message: format!("document {} ({}): {message}", input.index, input.resource),
    }
}

/// Inventories by directory, each read once and shared by every input of that
/// directory; a broken file stays an error for all of them.
#[derive(Debug, Default)]
pub struct InventoryCache {
    limits: Limits,
    by_dir: Mutex<HashMap<PathBuf, Result<Arc<Inventory>, LoadError>>>,
}

impl InventoryCache {
    /// An empty cache reading files with `limits`.
    pub fn new(limits: Limits) -> InventoryCache {
        InventoryCache {
            limits,
            by_dir: Mutex::default(),
        }
    }

    /// The inventory beside `input`'s file: an empty one when there is no
    /// `_inventory.yaml`, an error naming the file when it cannot be used.
    ///
    /// ```
    /// use verdict::input::{inventory::InventoryCache, Input};
    /// # let dir = tempfile::tempdir().unwrap();
    /// std::fs::write(dir.path().join("_inventory.yaml"), "apiVersion: v1\nkind: Namespace\nmetadata: [broken\n").unwrap();
    /// let input = Input::from_value(dir.path().join("pass-a.yaml"), 0, None, serde_json::json!({}));
    /// let err = InventoryCache::default().for_input(&input).unwrap_err();
    /// assert!(err.to_string().contains("_inventory.yaml"));
    /// ```
    pub fn for_input(&self, input: &Input) -> Result<Arc<Inventory>, LoadError> {
        let dir = input
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let mut cache = self.by_dir.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .entry(dir)
            .or_insert_with_key(|dir| {
                let file = dir.join(INVENTORY_FILE);
                if file.exists() {
                    Inventory::load(&file, &self.limits).map(Arc::new)
                } else {
                    Ok(Arc::new(Inventory::default()))
                }
            })
            .clone()
    }
}
