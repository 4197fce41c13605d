"""An asyncio echo server: the target of the connection-latency benchmark."""
import asyncio
import sys


async def echo(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def main(host, port):
    server = await asyncio.start_server(echo, host, int(port), reuse_address=True, backlog=512)
    async with server:
        await server.serve_forever()


asyncio.run(main(sys.argv[1], sys.argv[2]))
