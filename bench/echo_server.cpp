// TCP echo server on uasyncio's start_server, for bench/run_echo.sh.
// Usage: echo_server [port]   (port 0, the default, picks one; "PORT <n>" goes to stdout)
#include <cstdio>
#include <cstdlib>
#include <string>

#include <uasyncio/uasyncio.hpp>

namespace ua = uasyncio;

namespace {

ua::Coro<void> echo(ua::StreamReader r, ua::StreamWriter w) {
  try {
    for (;;) {
      std::string data = co_await r.read(64 * 1024);
      if (data.empty()) break;
      w.write(data);
      co_await w.drain();
    }
  } catch (const ua::ConnectionError&) {
  }
  w.close();
}

ua::Coro<void> serve(int port) {
  ua::Server server = co_await ua::start_server(echo, "127.0.0.1", port, 128);
  std::printf("PORT %d\n", server.port());
  std::fflush(stdout);
  co_await server.wait_closed();  // serves until killed
}

}  // namespace

int main(int argc, char** argv) {
  const int port = argc > 1 ? std::atoi(argv[1]) : 0;
  ua::run(serve(port));
}
