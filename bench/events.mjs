// Realistic request bodies for the ingest benchmark: social-network notification events.
//
// Generating and serialising fresh objects for every request would make the load generator the
// bottleneck, so bodies are built once as byte templates with fixed-width placeholders, and each
// request copies a template and overwrites the placeholders in place (a memcpy plus a few hundred
// byte writes). Every request gets new ids, so the store never answers "duplicate".

import { Buffer } from 'node:buffer';
import { createHmac, randomUUID } from 'node:crypto';

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

// ---- GitHub deliveries ---------------------------------------------------------------------------

const ORGS = ['acme', 'octo-labs', 'northwind', 'globex', 'initech', 'umbrella-dev', 'hooli', 'stark-ind'];
const LABELS = [
  ['bug', 'd73a4a'],
  ['enhancement', 'a2eeef'],
  ['documentation', '0075ca'],
  ['good first issue', '7057ff'],
  ['question', 'd876e3'],
];

/** A base64 GraphQL node id of the shape GitHub sends (`MDU6SXNzdWU…`), from the PRNG. */
const nodeId = (r, kind) => Buffer.from(`0${kind.length}:${kind}${Math.floor(r() * 1e10)}`).toString('base64');

/** A GitHub user object as webhook payloads carry it, without the API URLs. */
function githubUser(r) {
  const login = `${pick(r, FIRST)}${pick(r, LAST)}${Math.floor(r() * 100)}`.toLowerCase();
  const id = 1_000_000 + Math.floor(r() * 90_000_000);
  return {
    login,
    id,
    node_id: nodeId(r, 'User'),
    avatar_url: `https://avatars.githubusercontent.com/u/${id}?v=4`,
    html_url: `https://github.com/${login}`,
    type: 'User',
    site_admin: false,
  };
}

const ghTime = (t) => new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * An `issue_comment` / `created` delivery as GitHub sends it (the shape of @octokit/webhooks-examples'
 * example, without most of the API URLs that make a real one ~10–14 KB): 2.4–3 KB. The repository
 * is `<org>/repo-NNNNNN` (the stream placeholder: the store files the event under
 * `github/<org>/repo-NNNNNN`) and the comment id carries the counter placeholder.
 */
function githubCommentJson(r) {
  const org = pick(r, ORGS);
  const repo = `repo-${STREAM_MARK}`;
  const full = `${org}/${repo}`;
  const number = 1 + Math.floor(r() * 3000);
  const t = Date.UTC(2026, 10, 1) + Math.floor(r() * 86_400_000);
  const author = githubUser(r);
  const commenter = r() < 0.3 ? author : githubUser(r);
  const owner = { ...githubUser(r), login: org, type: 'Organization', html_url: `https://github.com/${org}` };
  const labels = Array.from({ length: Math.floor(r() * 3) }, () => {
    const [name, color] = pick(r, LABELS);
    return {
      id: Math.floor(r() * 1e10),
      node_id: nodeId(r, 'Label'),
      url: `https://api.github.com/repos/${full}/labels/${encodeURIComponent(name)}`,
      name,
      color,
      default: r() < 0.5,
      description: null,
    };
  });
  const commentId = `1${ID_MARK}`; // a JSON number: 13 digits, the counter in the last 12
  const payload = {
    action: 'created',
    issue: {
      url: `https://api.github.com/repos/${full}/issues/${number}`,
      html_url: `https://github.com/${full}/issues/${number}`,
      id: Math.floor(r() * 3e9),
      node_id: nodeId(r, 'Issue'),
      number,
      title: sentence(r, 4, 10),
      user: author,
      labels,
      state: 'open',
      locked: false,
      assignee: null,
      assignees: [],
      milestone: null,
      comments: Math.floor(r() * 40),
      created_at: ghTime(t - 86_400_000 * Math.floor(r() * 30)),
      updated_at: ghTime(t),
      closed_at: null,
      author_association: pick(r, ['OWNER', 'MEMBER', 'CONTRIBUTOR', 'NONE']),
      body: sentence(r, 10, 30),
    },
    comment: {
      url: `https://api.github.com/repos/${full}/issues/comments/${commentId}`,
      html_url: `https://github.com/${full}/issues/${number}#issuecomment-${commentId}`,
      id: commentId,
      node_id: nodeId(r, 'IssueComment'),
      user: commenter,
      created_at: ghTime(t),
      updated_at: ghTime(t),
      author_association: pick(r, ['OWNER', 'MEMBER', 'CONTRIBUTOR', 'NONE']),
      body: sentence(r, 6, 24),
    },
    repository: {
      id: Math.floor(r() * 9e8),
      node_id: nodeId(r, 'Repository'),
      name: repo,
      full_name: full,
      private: r() < 0.3,
      owner,
      html_url: `https://github.com/${full}`,
      description: sentence(r, 2, 6),
      fork: false,
      url: `https://api.github.com/repos/${full}`,
      created_at: ghTime(t - 86_400_000 * 400),
      updated_at: ghTime(t - 3_600_000),
      pushed_at: ghTime(t - 600_000),
      stargazers_count: Math.floor(r() ** 3 * 5000),
      language: pick(r, ['TypeScript', 'Go', 'Rust', 'Python', null]),
      open_issues_count: Math.floor(r() * 200),
      default_branch: 'main',
    },
    sender: commenter,
  };
  // The comment id is a number in GitHub's payloads: unquote the placeholder.
  return JSON.stringify(payload).replace(`"${commentId}"`, commentId);
}

/**
 * Signed GitHub deliveries for POST /v1/webhooks/{source}: `count` templates of one issue comment
 * each, filled per request (comment id from the counter, repository number at random over
 * `streams`) and signed with the source's secret (HMAC-SHA256 of the body, ~2 µs). Every request
 * gets a new X-GitHub-Delivery (a UUID, as GitHub's): the store's event id, so nothing is a duplicate.
 */
export function githubDeliveries({ tag, secret, streams = 10_000, seed = 42, count = 64 }) {
  const make = bodies({ tag, streams, seed });
  const tpls = Array.from({ length: count }, () => template([githubCommentJson(make.r)], false));
  let k = 0;
  return {
    /** Mean body bytes of the templates. */
    bytes: tpls.reduce((n, t) => n + t.bytes.length, 0) / tpls.length,
    next() {
      const body = make.fill(tpls[k++ % tpls.length]).buf;
      return {
        body,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'GitHub-Hookshot/044aadd',
          'x-github-event': 'issue_comment',
          'x-github-delivery': randomUUID(),
          'x-github-hook-id': '471230999',
          'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
        },
      };
    },
  };
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
    /** The PRNG of the bodies and the filler of a template, for other body shapes (githubDeliveries). */
    r,
    fill,
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
