use std::sync::Arc;
pub async fn run(_context: Arc<super::Context>) {}
