// Streams (§15) over real TCP sockets on 127.0.0.1 (ephemeral ports), on the real clock.
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include <uasyncio/uasyncio.hpp>

#include "loop_fixture.hpp"

namespace ua = uasyncio;

namespace {

// Server handlers that are still running; a test waits for them all before it ends, so no task
// is left blocked on a socket.
int g_handlers = 0;

class StreamTest : public LoopTest {
 protected:
  void SetUp() override {
    LoopTest::SetUp();
    ua::get_event_loop().set_virtual_clock(false);
    g_handlers = 0;
  }
};

// Every test body runs under a deadline, so a bug shows up as a failure rather than a hang.
template <class T>
T run_bounded(ua::Coro<T> body, double seconds = 20.0) {
  return ua::run(ua::wait_for(std::move(body), seconds));
}

ua::Coro<void> handlers_done() {
  while (g_handlers > 0)
    co_await ua::sleep_ms(1);
}

ua::Coro<void> close_server(ua::Server server) {
  server.close();
  co_await server.wait_closed();
  co_await handlers_done();
}

// Echoes line by line until EOF (or until the client resets the connection).
ua::Coro<void> echo_lines(ua::StreamReader r, ua::StreamWriter w) {
  ++g_handlers;
  try {
    for (;;) {
      std::string line = co_await r.readline();
      if (line.empty()) break;
      w.write(line);
      co_await w.drain();
    }
  } catch (const ua::ConnectionError&) {
  }
  w.close();
  co_await w.wait_closed();
  --g_handlers;
}

// ---------------------------------------------------------------------------------------------

struct EchoResult {
  std::vector<std::string> lines;
  std::optional<ua::Address> client_sockname;
  std::optional<ua::Address> client_peername;
  std::optional<ua::Address> server_peername;
};
EchoResult* g_echo = nullptr;

ua::Coro<void> echo_recording_peer(ua::StreamReader r, ua::StreamWriter w) {
  g_echo->server_peername = w.get_extra_info("peername");
  co_await echo_lines(r, w);
}

ua::Coro<EchoResult> echo_round_trip() {
  EchoResult result;
  g_echo = &result;
  ua::Server server = co_await ua::start_server(echo_recording_peer, "127.0.0.1", 0);
  auto [r, w] = co_await ua::open_connection("127.0.0.1", server.port());
  EXPECT_TRUE(r == w);  // §15.1: the same stream twice
  result.client_sockname = w.get_extra_info("sockname");
  result.client_peername = w.get_extra_info("peername");
  for (const char* line : {"hello\n", "second line\n", "x\n"}) {
    w.write(line);
    co_await w.drain();
    result.lines.push_back(co_await r.readline());
  }
  w.close();
  co_await w.wait_closed();
  co_await close_server(server);
  g_echo = nullptr;
  co_return result;
}

using Echo = StreamTest;

TEST_F(Echo, ServerEchoesEveryLineBackToTheClient) {
  EchoResult res = run_bounded(echo_round_trip());
  EXPECT_EQ(res.lines, (std::vector<std::string>{"hello\n", "second line\n", "x\n"}));
  ASSERT_TRUE(res.client_peername.has_value());
  EXPECT_EQ(res.client_peername->host, "127.0.0.1");
  ASSERT_TRUE(res.client_sockname.has_value());
  ASSERT_TRUE(res.server_peername.has_value());
  EXPECT_EQ(*res.server_peername, *res.client_sockname);
  EXPECT_NE(res.client_sockname->port, 0);
}

ua::Coro<std::vector<std::string>> chunked_lines() {
  ua::Server server = co_await ua::start_server(echo_lines, "127.0.0.1", 0);
  auto [r, w] = co_await ua::open_connection("127.0.0.1", server.port());
  // Lines split across writes and several lines in one write come out one line per readline.
  w.write("ab");
  co_await w.drain();
  co_await ua::sleep_ms(20);
  w.write("c\nde\nf");
  co_await w.drain();
  co_await ua::sleep_ms(20);
  w.write("g\n");
  co_await w.drain();
  std::vector<std::string> got;
  for (int i = 0; i < 3; ++i)
    got.push_back(co_await r.readline());
  w.close();
  co_await w.wait_closed();
  co_await close_server(server);
  co_return got;
}

TEST_F(Echo, ReadlineJoinsAndSplitsChunks) {
  EXPECT_EQ(run_bounded(chunked_lines()), (std::vector<std::string>{"abc\n", "de\n", "fg\n"}));
}

// ---------------------------------------------------------------------------------------------
// EOF

std::string g_payload;

// Writes g_payload and returns without close(): dropping the last handle must still deliver it.
ua::Coro<void> send_payload_and_drop(ua::StreamReader, ua::StreamWriter w) {
  ++g_handlers;
  w.write(g_payload);
  --g_handlers;
  co_return;
}

struct EofResult {
  std::string all;
  std::string after_eof;
  bool at_eof = false;
};

ua::Coro<EofResult> read_to_eof() {
  ua::Server server = co_await ua::start_server(send_payload_and_drop, "127.0.0.1", 0);
  auto [r, w] = co_await ua::open_connection("127.0.0.1", server.port());
  EofResult res;
  res.all = co_await r.read();  // n = -1: until EOF
  res.after_eof = co_await r.read(10);
  res.at_eof = r.at_eof();
  w.close();
  co_await w.wait_closed();
  co_await close_server(server);
  co_return res;
}

using Eof = StreamTest;

TEST_F(Eof, ReadAllReturnsEverythingThenEmpty) {
  g_payload = std::string(300'000, 'z') + "end";
  EofResult res = run_bounded(read_to_eof());
  EXPECT_EQ(res.all.size(), g_payload.size());
  EXPECT_EQ(res.all, g_payload);
  EXPECT_EQ(res.after_eof, "");
  EXPECT_TRUE(res.at_eof);
}

ua::Coro<std::vector<std::string>> readline_at_eof() {
  ua::Server server = co_await ua::start_server(send_payload_and_drop, "127.0.0.1", 0);
  auto [r, w] = co_await ua::open_connection("127.0.0.1", server.port());
  std::vector<std::string> got;
  for (int i = 0; i < 3; ++i)
    got.push_back(co_await r.readline());
  w.close();
  co_await w.wait_closed();
  co_await close_server(server);
  co_return got;
}

TEST_F(Eof, ReadlineGivesTheUnterminatedTailThenEmpty) {
  g_payload = "one\ntail";
  EXPECT_EQ(run_bounded(readline_at_eof()), (std::vector<std::string>{"one\n", "tail", ""}));
}

struct PartialResult {
  std::string first;
  std::size_t into = 0;
  std::string into_bytes;
  std::string rest;
};

ua::Coro<PartialResult> partial_reads() {
  ua::Server server = co_await ua::start_server(send_payload_and_drop, "127.0.0.1", 0);
  auto [r, w] = co_await ua::open_connection("127.0.0.1", server.port());
  PartialResult res;
  co_await r.readexactly(1);
  co_await ua::sleep_ms(20);       // the rest of the short payload has arrived by now
  res.first = co_await r.read(3);  // at most n bytes, even with more buffered
  char buf[4];
  res.into = co_await r.readinto(buf);
  res.into_bytes.assign(buf, res.into);
  res.rest = co_await r.read();
  w.close();
  co_await w.wait_closed();
  co_await close_server(server);
  co_return res;
}

TEST_F(Eof, ReadNAndReadintoTakeAtMostWhatWasAskedFor) {
  g_payload = "0123456789abc";
  PartialResult res = run_bounded(partial_reads());
  EXPECT_EQ(res.first, "123");
  EXPECT_EQ(res.into, 4u);
  EXPECT_EQ(res.into_bytes, "4567");
  EXPECT_EQ(res.rest, "89abc");
}

// ---------------------------------------------------------------------------------------------
// readexactly

struct ExactResult {
  std::string first;
  bool eof_error = false;
  std::string partial;
  std::string message;
};

ua::Coro<ExactResult> short_readexactly() {
  ua::Server server = co_await ua::start_server(send_payload_and_drop, "127.0.0.1", 0);
  auto [r, w] = co_await ua::open_connection("127.0.0.1", server.port());
  ExactResult res;
  res.first = co_await r.readexactly(4);
  try {
    co_await r.readexactly(10);
  } catch (const ua::EOFError& e) {  // MicroPython raises EOFError
    res.eof_error = true;
    res.message = e.what();
    if (const auto* ir = dynamic_cast<const ua::IncompleteReadError*>(&e))
      res.partial = ir->partial();
  }
  w.close();
  co_await w.wait_closed();
  co_await close_server(server);
  co_return res;
}

using Readexactly = StreamTest;

TEST_F(Readexactly, ShortStreamRaisesEOFErrorWithWhatArrived) {
  g_payload = "abcdefg";
  ExactResult res = run_bounded(short_readexactly());
  EXPECT_EQ(res.first, "abcd");
  EXPECT_TRUE(res.eof_error);
  EXPECT_EQ(res.partial, "efg");
  EXPECT_NE(res.message.find("readexactly(10)"), std::string::npos) << res.message;
  EXPECT_NE(res.message.find("3 of 10"), std::string::npos) << res.message;
}

// ---------------------------------------------------------------------------------------------
// Peer reset

ua::Coro<void> reset_at_once(ua::StreamReader r, ua::StreamWriter w) {
  ++g_handlers;
  co_await r.readline();  // the client is connected and has spoken
  w.abort();              // RST instead of FIN
  --g_handlers;
}

ua::Coro<int> read_after_reset() {
  ua::Server server = co_await ua::start_server(reset_at_once, "127.0.0.1", 0);
  auto [r, w] = co_await ua::open_connection("127.0.0.1", server.port());
  w.write("hi\n");
  co_await w.drain();
  int code = 0;
  try {
    co_await r.read(100);
  } catch (const ua::ConnectionResetError& e) {
    code = e.error_code();
  }
  w.close();
  co_await w.wait_closed();
  co_await close_server(server);
  co_return code;
}

using PeerReset = StreamTest;

TEST_F(PeerReset, ReadRaisesConnectionResetError) {
  EXPECT_EQ(run_bounded(read_after_reset()), ECONNRESET);
}

// ---------------------------------------------------------------------------------------------
// Many connections

ua::Coro<int> one_client(int port, int id) {
  auto [r, w] = co_await ua::open_connection("127.0.0.1", port);
  const std::string line = "client " + std::to_string(id) + "\n";
  w.write(line);
  co_await w.drain();
  std::string back = co_await r.readline();
  w.close();
  co_await w.wait_closed();
  co_return back == line ? 1 : 0;
}

ua::Coro<int> thousand_clients() {
  ua::Server server = co_await ua::start_server(echo_lines, "127.0.0.1", 0, 1024);
  std::vector<ua::Coro<int>> clients;
  for (int i = 0; i < 1000; ++i)
    clients.push_back(one_client(server.port(), i));
  std::vector<int> ok = co_await ua::gather(std::move(clients));
  co_await close_server(server);
  int n = 0;
  for (int v : ok)
    n += v;
  co_return n;
}

using Connections = StreamTest;

TEST_F(Connections, ThousandConcurrentClientsAllGetTheirOwnEcho) {
  // 2,000 sockets plus the listener: lift the soft descriptor limit if it is lower.
  rlimit lim{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
  if (lim.rlim_cur < 4096 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = std::min<rlim_t>(4096, lim.rlim_max);
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);
  }
  ASSERT_GE(lim.rlim_cur, 2100u) << "the hard descriptor limit is too low for this test";
  EXPECT_EQ(run_bounded(thousand_clients(), 60.0), 1000);
}

// ---------------------------------------------------------------------------------------------
// Cancellation

ua::Coro<std::string> read_some(ua::StreamReader r) {
  co_return co_await r.read(100);
}

struct CancelReadResult {
  bool blocked = false;
  bool cancelled = false;
  std::string later;
};

ua::Coro<CancelReadResult> cancel_blocked_read() {
  CancelReadResult res;
  ua::Server server = co_await ua::start_server(echo_lines, "127.0.0.1", 0);
  auto [r, w] = co_await ua::open_connection("127.0.0.1", server.port());
  ua::Task<std::string> reader = ua::create_task(read_some(r));
  co_await ua::sleep_ms(30);
  res.blocked = !reader.done();
  reader.cancel();
  try {
    co_await reader;
  } catch (const ua::CancelledError&) {
    res.cancelled = true;
  }
  // The cancelled reader left nothing behind: the next read gets the next data.
  w.write("after\n");
  co_await w.drain();
  res.later = co_await r.readline();
  w.close();
  co_await w.wait_closed();
  co_await close_server(server);
  co_return res;
}

using Cancel = StreamTest;

TEST_F(Cancel, TaskBlockedInReadUnlinksAndTheStreamStaysUsable) {
  CancelReadResult res = run_bounded(cancel_blocked_read());
  EXPECT_TRUE(res.blocked);
  EXPECT_TRUE(res.cancelled);
  EXPECT_EQ(res.later, "after\n");
}

ua::Coro<int> connect_only(std::string host, int port) {
  auto connection = co_await ua::open_connection(host, port);
  co_return connection.first ? 1 : 0;
}

ua::Coro<int> cancel_connects() {
  ua::Server server = co_await ua::start_server(echo_lines, "127.0.0.1", 0);
  int cancelled = 0;
  // Cancelled while connecting (numeric host) and while resolving a name.
  for (const char* host : {"127.0.0.1", "localhost"}) {
    ua::Task<int> t = ua::create_task(connect_only(host, server.port()));
    co_await ua::sleep_ms(0);  // the task has started and waits on libuv
    EXPECT_FALSE(t.done());
    t.cancel();
    try {
      co_await t;
    } catch (const ua::CancelledError&) {
      ++cancelled;
    }
  }
  co_await ua::sleep_ms(50);  // callbacks of the abandoned requests arrive and free them
  co_await close_server(server);
  co_return cancelled;
}

TEST_F(Cancel, ConnectAndNameResolutionCanBeCancelled) {
  EXPECT_EQ(run_bounded(cancel_connects()), 2);
}

// ---------------------------------------------------------------------------------------------
// Back-pressure

struct FloodState {
  std::size_t written = 0;
  std::size_t max_buffered = 0;
  ua::AnyTask task;
  ua::StreamWriter writer;
  bool cancelled = false;
};
FloodState* g_flood = nullptr;
constexpr std::size_t kChunk = 16 * 1024;

// Writes for as long as drain() lets it, into a peer that never reads.
ua::Coro<void> flood(ua::StreamReader, ua::StreamWriter w) {
  ++g_handlers;
  FloodState& st = *g_flood;
  st.task = ua::current_task();
  st.writer = w;
  const std::string chunk(kChunk, 'x');
  try {
    for (;;) {
      w.write(chunk);
      st.written += chunk.size();
      st.max_buffered = std::max(st.max_buffered, w.write_buffer_size());
      co_await w.drain();
    }
  } catch (const ua::CancelledError&) {
    st.cancelled = true;
  }
  w.abort();
  --g_handlers;
}

struct FloodResult {
  std::size_t written_early = 0;
  std::size_t written_late = 0;
  std::size_t max_buffered = 0;
  bool blocked = false;
  bool cancelled = false;
};

ua::Coro<FloodResult> flood_a_sleeper() {
  FloodState st;
  g_flood = &st;
  ua::Server server = co_await ua::start_server(flood, "127.0.0.1", 0);
  auto [r, w] = co_await ua::open_connection("127.0.0.1", server.port());
  FloodResult res;
  co_await ua::sleep_ms(300);  // kernel buffers fill up, then drain() must hold the writer
  res.written_early = st.written;
  co_await ua::sleep_ms(300);
  res.written_late = st.written;
  res.max_buffered = st.max_buffered;
  res.blocked = !st.task.done();
  st.task.cancel();  // cancelling a task blocked in drain
  co_await handlers_done();
  res.cancelled = st.cancelled;
  w.close();
  co_await w.wait_closed();
  co_await close_server(server);
  g_flood = nullptr;
  co_return res;
}

using Backpressure = StreamTest;

TEST_F(Backpressure, WriterAgainstAPeerThatNeverReadsStaysBounded) {
  FloodResult res = run_bounded(flood_a_sleeper());
  EXPECT_TRUE(res.blocked);
  EXPECT_GT(res.written_early, 0u);
  EXPECT_EQ(res.written_late, res.written_early) << "the writer kept going";
  EXPECT_LE(res.max_buffered, ua::Stream::kDefaultHighWater + kChunk);
  EXPECT_GT(res.max_buffered, 0u) << "the kernel never pushed back: nothing was buffered";
  EXPECT_TRUE(res.cancelled);
}

// The reading side: a task that does not consume stops the socket being read.
ua::Coro<void> send_payload_and_close(ua::StreamReader, ua::StreamWriter w) {
  ++g_handlers;
  w.write(g_payload);
  w.close();
  co_await w.wait_closed();
  --g_handlers;
}

struct SlowReaderResult {
  std::size_t buffered = 0;
  std::string all;
};

ua::Coro<SlowReaderResult> slow_reader() {
  ua::Server server = co_await ua::start_server(send_payload_and_close, "127.0.0.1", 0);
  auto [r, w] = co_await ua::open_connection("127.0.0.1", server.port());
  SlowReaderResult res;
  co_await r.read(1);  // reading has started
  co_await ua::sleep_ms(200);
  res.buffered = r.read_buffer_size();
  res.all = co_await r.read();  // reading resumes as the buffer empties
  w.close();
  co_await w.wait_closed();
  co_await close_server(server);
  co_return res;
}

TEST_F(Backpressure, UnconsumedInputPausesReadingUntilTheTaskReads) {
  g_payload.assign(8 << 20, 'q');
  SlowReaderResult res = run_bounded(slow_reader());
  EXPECT_GT(res.buffered, 0u);
  EXPECT_LE(res.buffered, ua::Stream::kDefaultReadLimit + 64 * 1024);
  EXPECT_EQ(res.all.size() + 1, g_payload.size());
}

ua::Coro<void> note(std::vector<std::string>* log, std::string what) {
  log->push_back(std::move(what));
  co_return;
}

ua::Coro<std::vector<std::string>> drain_yields() {
  std::vector<std::string> log;
  ua::Server server = co_await ua::start_server(echo_lines, "127.0.0.1", 0);
  auto [r, w] = co_await ua::open_connection("127.0.0.1", server.port());
  w.write("x\n");
  ua::create_task(note(&log, "other task"));
  co_await w.drain();  // nothing to wait for, yet it yields (§15.2)
  log.push_back("after drain");
  co_await r.readline();
  w.close();
  co_await w.wait_closed();
  co_await close_server(server);
  co_return log;
}

TEST_F(Backpressure, DrainAlwaysYieldsOnce) {
  EXPECT_EQ(run_bounded(drain_yields()), (std::vector<std::string>{"other task", "after drain"}));
}

// ---------------------------------------------------------------------------------------------
// Server and connection errors

struct BindResult {
  int port = 0;
  int code = 0;
  std::string message;
};

ua::Coro<BindResult> bind_twice() {
  BindResult res;
  ua::Server first = co_await ua::start_server(echo_lines, "127.0.0.1", 0);
  res.port = first.port();
  try {
    co_await ua::start_server(echo_lines, "127.0.0.1", res.port);
  } catch (const ua::OSError& e) {
    res.code = e.error_code();
    res.message = e.what();
  }
  co_await close_server(first);
  co_return res;
}

using Bind = StreamTest;

TEST_F(Bind, AddressInUseRaisesOSErrorFromStartServer) {
  BindResult res = run_bounded(bind_twice());
  EXPECT_NE(res.port, 0);
  EXPECT_EQ(res.code, EADDRINUSE);
  EXPECT_NE(res.message.find("127.0.0.1:" + std::to_string(res.port)), std::string::npos)
      << res.message;
}

struct RefusedResult {
  bool serving_after_close = true;
  int code = 0;
};

ua::Coro<RefusedResult> connect_after_close() {
  RefusedResult res;
  ua::Server server = co_await ua::start_server(echo_lines, "127.0.0.1", 0);
  const int port = server.port();
  co_await close_server(server);
  res.serving_after_close = server.is_serving();
  try {
    co_await ua::open_connection("127.0.0.1", port);
  } catch (const ua::ConnectionRefusedError& e) {
    res.code = e.error_code();
  }
  co_return res;
}

TEST_F(Bind, ClosedServerRefusesConnections) {
  RefusedResult res = run_bounded(connect_after_close());
  EXPECT_FALSE(res.serving_after_close);
  EXPECT_EQ(res.code, ECONNREFUSED);
}

// §15.2: close() is a no-op (MicroPython): writing goes on after it, and the peer sees EOF only
// when wait_closed() closes the socket. (The library used to shut the write side down in
// close(), so the peer's EOF came at close() time.)
std::vector<std::string> g_close_order;

ua::Coro<void> read_until_eof(ua::StreamReader r, ua::StreamWriter w) {
  ++g_handlers;
  std::string all = co_await r.read(-1);
  g_close_order.push_back("peer read '" + all + "' then EOF");
  co_await w.wait_closed();
  --g_handlers;
}

ua::Coro<void> write_after_close_then_wait_closed() {
  ua::Server server = co_await ua::start_server(read_until_eof, "127.0.0.1", 0);
  auto [r, w] = co_await ua::open_connection("127.0.0.1", server.port());
  w.write("early ");
  w.close();
  EXPECT_TRUE(w.is_closing());
  w.write("late");  // still works
  co_await w.drain();
  co_await ua::sleep_ms(50);  // ample time for an EOF to reach the peer, if one had been sent
  g_close_order.push_back("wait_closed");
  co_await w.wait_closed();
  std::string what;
  try {
    w.write("after wait_closed");
  } catch (const ua::BrokenPipeError& e) {
    what = e.what();
  }
  g_close_order.push_back(what.find("closed") != std::string::npos ? "BrokenPipeError" : what);
  co_await close_server(server);
}

TEST_F(Bind, CloseIsANoOpAndWaitClosedCloses) {
  g_close_order.clear();
  run_bounded(write_after_close_then_wait_closed());
  // The peer's EOF comes after wait_closed() started (before or after it returned).
  ASSERT_EQ(g_close_order.size(), 3u);
  EXPECT_EQ(g_close_order[0], "wait_closed");
  std::vector<std::string> rest(g_close_order.begin() + 1, g_close_order.end());
  std::sort(rest.begin(), rest.end());
  EXPECT_EQ(rest, (std::vector<std::string>{"BrokenPipeError", "peer read 'early late' then EOF"}));
}

// ---------------------------------------------------------------------------------------------
// Name resolution

struct ResolveResult {
  std::vector<ua::Address> addresses;
  std::string echoed;
  int ticks = 0;
};
int g_ticks = 0;

ua::Coro<void> ticker() {
  for (;;) {
    ++g_ticks;
    co_await ua::sleep_ms(0);
  }
}

ua::Coro<ResolveResult> resolve_localhost() {
  ResolveResult res;
  ua::Server server = co_await ua::start_server(echo_lines, "127.0.0.1", 0);
  g_ticks = 0;
  ua::Task<void> tick = ua::create_task(ticker());
  res.addresses = co_await ua::getaddrinfo("localhost", server.port());
  res.ticks = g_ticks;
  tick.cancel();
  // "localhost" may list ::1 first, where nothing listens: the next address is tried.
  auto [r, w] = co_await ua::open_connection("localhost", server.port());
  w.write("via name\n");
  co_await w.drain();
  res.echoed = co_await r.readline();
  w.close();
  co_await w.wait_closed();
  co_await close_server(server);
  co_return res;
}

using Resolve = StreamTest;

TEST_F(Resolve, LocalhostResolvesOffTheLoopAndConnects) {
  ResolveResult res = run_bounded(resolve_localhost());
  bool loopback = false;
  for (const ua::Address& a : res.addresses)
    loopback |= a.host == "127.0.0.1" || a.host == "::1";
  EXPECT_TRUE(loopback);
  EXPECT_GE(res.ticks, 1) << "the loop did not run while the name was resolved";
  EXPECT_EQ(res.echoed, "via name\n");
}

}  // namespace
