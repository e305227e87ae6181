/**
 * The command loop of a load-generator process forked by pool.mjs: `{ id, cmd, args }` in,
 * `{ id, ok, result }` or `{ id, ok: false, error }` out, one handler per command name.
 */
export function serveCommands(commands) {
  process.on('message', async (msg) => {
    try {
      const result = await commands[msg.cmd](msg.args ?? {});
      process.send({ id: msg.id, ok: true, result });
    } catch (err) {
      process.send({ id: msg.id, ok: false, error: err?.stack ?? String(err) });
    }
  });
  // The parent going away ends this worker: its sockets close with it. Exiting (not dying by the
  // signal) lets `--cpu-prof` write its profile.
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}
