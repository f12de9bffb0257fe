"""TCP echo server on CPython asyncio streams, for bench/run_echo.sh.

Usage: echo_server.py [--uvloop] [port]   (port 0, the default, picks one; prints "PORT <n>")
The same handler as bench/echo_server.cpp: read up to 64 KiB, write it back, drain.
"""
import asyncio
import sys


async def echo(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    writer.close()


async def main(port):
    server = await asyncio.start_server(echo, "127.0.0.1", port, backlog=128)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--uvloop" in args:
        args.remove("--uvloop")
        import uvloop
        uvloop.install()
    asyncio.run(main(int(args[0]) if args else 0))
