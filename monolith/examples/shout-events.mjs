// Your own gateway event, next to the built-in ones: start a monolith with
//   MONOLITH_EVENTS_MODULE=monolith/examples/shout-events.mjs
// and a client's {"event":"shout","_id":1,"data":{"text":"hi"}} is answered
// {"event":"shouted","_id":1,"data":{"text":"HI","by":"<the caller's subject>"}}.
export default function register(events, { log }) {
  events.on('shout', (ctx, data) => {
    const text = data && typeof data === 'object' ? data.text : undefined;
    if (typeof text !== 'string' || text.length > 200) return ctx.error('bad_request', 'data.text must be a string of at most 200 characters');
    log.debug('shout', { conn: ctx.conn.id });
    ctx.reply('shouted', { text: text.toUpperCase(), by: ctx.conn.subject });
  });
}
