// A JobBackend over any DurableStore: counts kept in RAM as writes are made, ids handed out
// from the highest stored one, writes queued to a GroupWriter, reads through StoreReaders.
// The SQLite and PostgreSQL backends are this with their own store and readers.
#pragma once

#include <functional>
#include <memory>

#include "durable_store.hpp"

namespace uasyncd::server {

// Counts the store's rows, applies retention (rows it would drop at once are never served),
// loads the live jobs, then opens the readers (`open_readers`, called once, after the store is
// ready) and starts the writer thread, which owns the store from then on.
std::unique_ptr<JobBackend> make_durable_backend(
    std::unique_ptr<DurableStore> store,
    const std::function<std::unique_ptr<StoreReaders>()>& open_readers, BackendOptions options);

}  // namespace uasyncd::server
