// Realistic request bodies for the ingest benchmark: social-network notification events.
//
// Generating and serialising fresh objects for every request would make the load generator the
// bottleneck, so bodies are built once as byte templates with fixed-width placeholders, and each
// request copies a template and overwrites the placeholders in place (a memcpy plus a few hundred
// byte writes). Every request gets new ids, so the store never answers "duplicate".

import { Buffer } from 'node:buffer';

/** Placeholder for the per-request counter inside an id; 12 digits = 10^12 requests. */
const ID_MARK = '@@@@@@@@@@@@';
/** Placeholder for the stream (post or group) number; 6 digits = up to 10^6 streams. */
const STREAM_MARK = '######';

/** Small deterministic PRNG (mulberry32) so every run sends the same shape of data. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST = ['Ada', 'Bea', 'Chen', 'Dara', 'Eli', 'Farah', 'Goran', 'Hana', 'Ivo', 'Jun', 'Kemi', 'Lars', 'Mia', 'Noor', 'Omar', 'Pia'];
const LAST = ['Okafor', 'Lindqvist', 'Nakamura', 'Silva', 'Kowalski', 'Haddad', 'Moreau', 'Singh', 'Novak', 'Ferreira', 'Park', 'Ibsen'];
const WORDS =
  'the a new launch today weekend coffee trail photo city release notes team garden recipe music live demo open source river night train bike book review first snow quiet morning build ship'.split(
    ' ',
  );
const TAGS = ['travel', 'food', 'tech', 'music', 'outdoors', 'photography', 'books', 'startup', 'gardening', 'cycling', 'art', 'news'];
const TYPES = [
  'post.created',
  'post.liked',
  'post.liked',
  'post.liked',
  'post.commented',
  'post.commented',
  'post.edited',
  'post.deleted',
  'member.joined',
];

const SITE = 'https://social.example';

function pick(r, list) {
  return list[Math.floor(r() * list.length)];
}

function sentence(r, min, max) {
  const n = min + Math.floor(r() * (max - min + 1));
  const words = Array.from({ length: n }, () => pick(r, WORDS));
  const s = words.join(' ');
  return s[0].toUpperCase() + s.slice(1) + '.';
}

function user(r) {
  const first = pick(r, FIRST);
  const last = pick(r, LAST);
  const n = Math.floor(r() * 900_000) + 100_000;
  const handle = `${first}${last}${n % 1000}`.toLowerCase();
  return {
    id: `u_${n}`,
    handle,
    name: `${first} ${last}`,
    avatar: `${SITE}/avatars/u_${n}.jpg`,
    verified: r() < 0.1,
    followers: Math.floor(r() ** 3 * 50_000),
  };
}

/** `data` for one event type; the post/group number is the stream placeholder, filled per request. */
function dataFor(r, type) {
  const post = { id: `p_${STREAM_MARK}`, url: `${SITE}/p/${STREAM_MARK}` };
  switch (type) {
    case 'post.created':
      return {
        post: { ...post, text: sentence(r, 8, 20), tags: [pick(r, TAGS), pick(r, TAGS)], lang: 'en', visibility: 'public' },
        author: user(r),
      };
    case 'post.liked':
      return {
        post,
        actor: user(r),
        author: { id: user(r).id },
        reaction: pick(r, ['like', 'love', 'laugh']),
        likes: Math.floor(r() * 5000),
      };
    case 'post.commented':
      return {
        post,
        comment: { id: `c_${Math.floor(r() * 1e9)}`, text: sentence(r, 4, 14), replyTo: r() < 0.3 ? `c_${Math.floor(r() * 1e9)}` : null },
        actor: user(r),
        comments: Math.floor(r() * 800),
      };
    case 'post.edited':
      return { post: { ...post, text: sentence(r, 8, 18), tags: [pick(r, TAGS)] }, editor: user(r), revision: 1 + Math.floor(r() * 5) };
    case 'post.deleted':
      return {
        post,
        actor: user(r),
        reason: pick(r, ['author', 'moderation', 'spam']),
        likes: Math.floor(r() * 300),
        comments: Math.floor(r() * 40),
      };
    case 'member.joined':
      return {
        group: { id: `g_${STREAM_MARK}`, name: `${pick(r, TAGS)} club`, url: `${SITE}/g/${STREAM_MARK}` },
        member: user(r),
        invitedBy: r() < 0.5 ? user(r) : null,
        members: Math.floor(r() * 20_000),
      };
  }
  throw new Error(`unknown type ${type}`);
}

/**
 * One event as JSON text with placeholders: the id is `<tag>-<counter>-<index>` (unique per
 * request and per position), the stream is `post-NNNNNN` or `group-NNNNNN`.
 */
function eventJson(r, index, tag, withStream) {
  const type = pick(r, TYPES);
  const prefix = type === 'member.joined' ? 'group' : 'post';
  const t = Date.UTC(2026, 10, 1) + Math.floor(r() * 86_400_000);
  const event = {
    id: `${tag}-${ID_MARK}-${String(index).padStart(4, '0')}`,
    ...(withStream ? { stream: `${prefix}-${STREAM_MARK}` } : {}),
    type,
    time: new Date(t).toISOString(),
    source: `${SITE}/api`,
    data: dataFor(r, type),
  };
  return { json: JSON.stringify(event), prefix };
}

function offsetsOf(buf, mark, from, to) {
  const out = [];
  for (let i = buf.indexOf(mark, from, 'latin1'); i !== -1 && i < to; i = buf.indexOf(mark, i + mark.length, 'latin1')) out.push(i);
  return out;
}

/** A body template: the bytes, and per event where its id counter and stream numbers go. */
function template(jsons, wrapArray) {
  const text = wrapArray ? `[${jsons.join(',')}]` : jsons[0];
  const bytes = Buffer.from(text, 'utf8');
  const events = [];
  let from = wrapArray ? 1 : 0;
  for (const json of jsons) {
    const to = from + Buffer.byteLength(json);
    events.push({ ids: offsetsOf(bytes, ID_MARK, from, to), streams: offsetsOf(bytes, STREAM_MARK, from, to) });
    from = to + 1;
  }
  return { bytes, events };
}

/**
 * Makes body factories. `tag` must differ between load processes (ids are `<tag>-<counter>-<i>`),
 * `streams` is how many post/group numbers the random streams are drawn from.
 */
export function bodies({ tag, streams = 10_000, seed = 42 }) {
  const r = rng(seed);
  const rand = rng(seed ^ 0x5eed);
  let counter = 0;

  const fill = (tpl) => {
    const buf = Buffer.from(tpl.bytes); // a copy: autocannon may still be writing the previous one
    const n = String(counter++).padStart(ID_MARK.length, '0');
    const numbers = [];
    for (const ev of tpl.events) {
      for (const o of ev.ids) buf.write(n, o, 'latin1');
      const s = String(Math.floor(rand() * streams)).padStart(STREAM_MARK.length, '0');
      for (const o of ev.streams) buf.write(s, o, 'latin1');
      numbers.push(s);
    }
    return { buf, numbers };
  };

  return {
    /** `count` pre-built batches of `size` events of many streams (for POST /v1/events and /parse). */
    batchMaker(size, count = 8) {
      const tpls = Array.from({ length: count }, () =>
        template(
          Array.from({ length: size }, (_, i) => eventJson(r, i, tag, true).json),
          true,
        ),
      );
      let k = 0;
      return () => fill(tpls[k++ % tpls.length]).buf;
    },
    /** Single events without `stream` (the route names it): returns { path, body }. */
    singleMaker(count = 256) {
      const tpls = Array.from({ length: count }, (_, i) => {
        const { json, prefix } = eventJson(r, i, tag, false);
        return { tpl: template([json], false), prefix };
      });
      let k = 0;
      return () => {
        const { tpl, prefix } = tpls[k++ % tpls.length];
        const { buf, numbers } = fill(tpl);
        return { path: `/v1/streams/${prefix}-${numbers[0]}/events`, body: buf };
      };
    },
  };
}
