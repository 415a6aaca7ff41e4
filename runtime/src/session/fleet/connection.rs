//! The connection the scripts run on: one Redis node (through redis-rs's
//! `ConnectionManager`, which reconnects) or a Redis Cluster (its cluster
//! connection, which follows the slots), established on first use so that
//! `build` needs no network.

use std::io;
use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};
use tokio::sync::OnceCell;

use super::script::redis_error;
use crate::error::Error;
use crate::redis_store::Target;

pub(crate) enum Connector {
    One(redis::aio::ConnectionManager),
    Cluster(Box<Cluster>),
}

pub(crate) struct Cluster {
    client: redis::cluster::ClusterClient,
    connection: OnceCell<ClusterConnection>,
    timeout: Duration,
}

/// A connection handle (cheap to clone) for one operation.
pub(crate) enum Connection {
    One(redis::aio::ConnectionManager),
    Cluster(ClusterConnection),
}

impl Connector {
    pub(crate) fn new(target: &Target, timeout: Duration) -> Result<Connector, Error> {
        match target {
            Target::One(client) => {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(timeout))
                    .set_number_of_retries(1)
                    .set_max_delay(timeout);
                let manager = client
                    .get_connection_manager_lazy(config)
                    .map_err(|e| Error::store(redis_error(e)))?;
                Ok(Connector::One(manager))
            }
            Target::Cluster(client, _) => Ok(Connector::Cluster(Box::new(Cluster {
                client: (**client).clone(),
                connection: OnceCell::new(),
                timeout,
            }))),
        }
    }

    pub(crate) async fn get(&self) -> io::Result<Connection> {
        match self {
            Connector::One(manager) => Ok(Connection::One(manager.clone())),
            Connector::Cluster(cluster) => {
                let Cluster {
                    client,
                    connection,
                    timeout,
                } = &**cluster;
                let config = redis::cluster::ClusterConfig::new()
                    .set_connection_timeout(*timeout)
                    .set_response_timeout(*timeout);
                let connection = connection
                    .get_or_try_init(|| async {
                        client
                            .get_async_connection_with_config(config)
                            .await
                            .map_err(redis_error)
                    })
                    .await?;
                Ok(Connection::Cluster(connection.clone()))
            }
        }
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::One(c) => c.req_packed_command(cmd),
            Connection::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::One(c) => c.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::One(c) => c.get_db(),
            Connection::Cluster(c) => c.get_db(),
        }
    }
}
