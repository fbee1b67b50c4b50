//! Message descriptors for the Kubernetes v1.32 API.
//!
//! k8s-rs-pb 0.5's generated reflection is unusable: each file lists itself as its own
//! dependency (`super::v1::file_descriptor()`), so the first `descriptor()` call on core/v1 or
//! meta/v1 deadlocks in its lazy initialiser (and so does `Debug` on its messages). Its
//! serde support is lossy too (Quantity "512Mi" becomes "536.9MB", inline Go structs are not
//! flattened). So the emulator builds dynamic descriptors from k8s-rs-pb's own embedded
//! `FileDescriptorProto`s, extracted once into `k8s-v1_32.binpb` (a `FileDescriptorSet` of the
//! GA API groups and apimachinery, in dependency order).

use std::collections::HashMap;
use std::sync::OnceLock;

use ::protobuf::Message;
use ::protobuf::descriptor::FileDescriptorSet;
use ::protobuf::reflect::{FileDescriptor, MessageDescriptor};

static DESCRIPTOR_SET: &[u8] = include_bytes!("k8s-v1_32.binpb");

struct Registry {
    messages: HashMap<String, MessageDescriptor>,
}

fn registry() -> Result<&'static Registry, String> {
    static REGISTRY: OnceLock<Result<Registry, String>> = OnceLock::new();
    REGISTRY
        .get_or_init(build)
        .as_ref()
        .map_err(|e| format!("embedded Kubernetes descriptors are unusable: {e}"))
}

fn build() -> Result<Registry, String> {
    let set = FileDescriptorSet::parse_from_bytes(DESCRIPTOR_SET).map_err(|e| e.to_string())?;
    let files = FileDescriptor::new_dynamic_fds(set.file, &[]).map_err(|e| e.to_string())?;
    let mut messages = HashMap::new();
    for file in &files {
        let package = file.proto().package().to_owned();
        for message in file.messages() {
            messages.insert(format!("{package}.{}", message.name()), message);
        }
    }
    Ok(Registry { messages })
}

/// The descriptor of a message by full protobuf name (`api.core.v1.Pod`).
pub(crate) fn message(full_name: &str) -> Result<MessageDescriptor, String> {
    registry()?
        .messages
        .get(full_name)
        .cloned()
        .ok_or_else(|| format!("no protobuf message {full_name}"))
}
