// Server-sent events read through fetch() rather than EventSource, because EventSource cannot
// send the Authorization header a daemon with a token requires.

// Calls onMessage(data, event) for each complete message of the stream until it ends.
export async function readSse(body, onMessage) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let data = [];
  let event = 'message';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      let line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '') {
        if (data.length) onMessage(data.join('\n'), event);
        data = [];
        event = 'message';
        continue;
      }
      if (line.startsWith(':')) continue;  // a keep-alive comment
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let v = colon < 0 ? '' : line.slice(colon + 1);
      if (v.startsWith(' ')) v = v.slice(1);
      if (field === 'data') data.push(v);
      else if (field === 'event') event = v;
    }
  }
}
