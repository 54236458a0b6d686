// Peer: the Express + ioredis recipe the project started from (shared/seed/
// express-redis-caching-tutorial.txt), as its tutorial writes it, on better-sqlite3.
//
// Contract (env): PORT, DB_PATH (the bench's SQLite file, read-only), REDIS_HOST/REDIS_PORT,
// EXPRESS_CACHE=on|off (off: no middleware, no getOrSet: the uncached reference),
// CACHE_TTL (seconds for both layers; the bench uses 3600 so nothing expires mid-run),
// EXPRESS_RATELIMIT=on|off and RATELIMIT_MAX: the tutorial's apiLimiter (express-rate-limit +
// rate-limit-redis on the same Redis, 15-minute window) with its max raised so it never 429s.
// Routes: GET /api/v1/posts?page&limit and GET /api/v1/posts/:id, answering the app's JSON
// byte for byte ({"data":[...],"meta":{...}}, datetimes as the app writes them), 404 JSON for a
// missing or unpublished post. One Node process, as the tutorial runs it; EXPRESS_PROCESSES=N
// (default 1) forks N with node:cluster on the same port, the way Node uses N cores.
import cluster from 'node:cluster';
import express from 'express';
import Redis from 'ioredis';
import Database from 'better-sqlite3';
import rateLimit from 'express-rate-limit';
import { RedisStore } from 'rate-limit-redis';

const PROCESSES = parseInt(process.env.EXPRESS_PROCESSES ?? '1', 10);
if (PROCESSES > 1 && cluster.isPrimary) {
  for (let i = 0; i < PROCESSES; i += 1) cluster.fork();
  const stopAll = () => {
    for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
    process.exit(0);
  };
  process.on('SIGTERM', stopAll);
  process.on('SIGINT', stopAll);
  await new Promise(() => {}); // the primary only supervises: nothing below runs in it
}

const CACHE_ON = (process.env.EXPRESS_CACHE ?? 'on') !== 'off';
const LIMIT_ON = (process.env.EXPRESS_RATELIMIT ?? 'off') === 'on';
const TTL = parseInt(process.env.CACHE_TTL ?? '60', 10);

// --- lib/redis.js -------------------------------------------------------------------------
const redis = new Redis({
  host: process.env.REDIS_HOST ?? 'localhost',
  port: parseInt(process.env.REDIS_PORT ?? '6379', 10),
  password: process.env.REDIS_PASSWORD || undefined,
  maxRetriesPerRequest: 3,
  lazyConnect: true, // don't connect until first command
  enableOfflineQueue: false, // fail fast if Redis is down
});
redis.on('error', (err) => console.error('Redis error:', err.message));

// --- lib/cache.js (the tutorial's resilient getOrSet) --------------------------------------
async function getOrSet(key, fn, ttl = TTL) {
  try {
    const cached = await redis.get(key);
    if (cached !== null) return JSON.parse(cached);
  } catch (err) {
    console.error(`Cache get failed for key "${key}":`, err.message);
    return fn();
  }
  const value = await fn();
  try {
    await redis.set(key, JSON.stringify(value), 'EX', ttl);
  } catch (err) {
    console.error(`Cache set failed for key "${key}":`, err.message);
  }
  return value;
}

// --- data access (better-sqlite3; the app's three queries) --------------------------------
const db = new Database(process.env.DB_PATH, { readonly: true, fileMustExist: true });
const SELECT_POSTS = `SELECT p.id, p.title, p.body, p.published, p.created_at, p.updated_at,
  u.id AS author_id, u.name AS author_name FROM posts p JOIN users u ON u.id = p.author_id`;
const countPublished = db.prepare('SELECT count(*) AS total FROM posts WHERE published = 1');
const pageOfPosts = db.prepare(`${SELECT_POSTS} WHERE p.published = 1
  ORDER BY p.created_at DESC, p.id DESC LIMIT ? OFFSET ?`);
const onePost = db.prepare(`${SELECT_POSTS} WHERE p.id = ?`);
const tagStatements = new Map();

function tagsByPost(ids) {
  const byPost = new Map();
  if (ids.length === 0) return byPost;
  let stmt = tagStatements.get(ids.length);
  if (!stmt) {
    stmt = db.prepare(`SELECT pt.post_id, t.id, t.name FROM post_tags pt
      JOIN tags t ON t.id = pt.tag_id WHERE pt.post_id IN (${ids.map(() => '?').join(',')})
      ORDER BY pt.post_id, t.id`);
    tagStatements.set(ids.length, stmt);
  }
  for (const row of stmt.all(...ids)) {
    if (!byPost.has(row.post_id)) byPost.set(row.post_id, []);
    byPost.get(row.post_id).push({ id: row.id, name: row.name });
  }
  return byPost;
}

// SQLite holds '2024-01-01 00:56:00.000000' (UTC); the app writes Python's isoformat + 'Z'.
function isoUtc(value) {
  return `${value.replace(' ', 'T').replace(/\.000000$/, '')}Z`;
}

function toPost(row, tags) {
  return {
    id: row.id,
    title: row.title,
    body: row.body,
    published: row.published === 1,
    created_at: isoUtc(row.created_at),
    updated_at: isoUtc(row.updated_at),
    author: { id: row.author_id, name: row.author_name },
    tags: tags ?? [],
  };
}

class AppError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

// --- features/posts/posts.service.js ------------------------------------------------------
function queryPosts(page, limit) {
  const { total } = countPublished.get();
  if (total === 0 || (page - 1) * limit >= total) return { data: [], meta: { total, page, limit } };
  const rows = pageOfPosts.all(limit, (page - 1) * limit);
  const tags = tagsByPost(rows.map((r) => r.id));
  return { data: rows.map((r) => toPost(r, tags.get(r.id))), meta: { total, page, limit } };
}

function queryPost(id) {
  const row = onePost.get(id);
  if (!row || row.published !== 1) throw new AppError('Post not found', 404);
  return toPost(row, tagsByPost([id]).get(id));
}

async function listPosts({ page = 1, limit = 20 } = {}) {
  if (!CACHE_ON) return queryPosts(page, limit);
  const cacheKey = `posts:list:page=${page}:limit=${limit}`;
  return getOrSet(cacheKey, async () => queryPosts(page, limit), TTL);
}

async function getPostById(id) {
  if (!CACHE_ON) return queryPost(id);
  return getOrSet(`posts:single:${id}`, async () => queryPost(id), TTL);
}

// --- middleware/cache.js (the tutorial's httpCache) ---------------------------------------
function httpCache(ttl = 60) {
  return async (req, res, next) => {
    if (req.method !== 'GET') return next();
    const key = `http:${req.originalUrl}`;
    try {
      const cached = await redis.get(key);
      if (cached) {
        res.setHeader('X-Cache', 'HIT');
        res.setHeader('Content-Type', 'application/json');
        return res.send(cached);
      }
    } catch (err) {
      console.error('Cache read error:', err.message);
      return next();
    }
    const originalJson = res.json.bind(res);
    res.json = (body) => {
      redis
        .set(key, JSON.stringify(body), 'EX', ttl)
        .catch((err) => console.error('Cache write error:', err.message));
      res.setHeader('X-Cache', 'MISS');
      return originalJson(body);
    };
    next();
  };
}

// --- posts.router.js + app.js -------------------------------------------------------------
function intParam(value, fallback, min, max) {
  const n = value === undefined ? fallback : Number.parseInt(value, 10);
  if (!Number.isInteger(n) || n < min || n > max) throw new AppError('Invalid parameter', 422);
  return n;
}

const controller = {
  async list(req, res) {
    const page = intParam(req.query.page, 1, 1, 1_000_000);
    const limit = intParam(req.query.limit, 20, 1, 100);
    res.json(await listPosts({ page, limit }));
  },
  async getById(req, res) {
    res.json(await getPostById(intParam(req.params.id, 0, 1, 2147483647)));
  },
};

const router = express.Router();
const cacheFor = (ttl) => (CACHE_ON ? [httpCache(ttl)] : []);
router.get('/', ...cacheFor(TTL), controller.list);
router.get('/:id', ...cacheFor(TTL), controller.getById);

// --- middleware/rateLimiter.js + app.js (the tutorial's apiLimiter) -----------------------
function apiLimiter() {
  return rateLimit({
    windowMs: 15 * 60 * 1000,
    max: parseInt(process.env.RATELIMIT_MAX ?? '100', 10),
    standardHeaders: true,
    legacyHeaders: false,
    store: new RedisStore({ sendCommand: (...args) => redis.call(...args) }),
    message: { status: 'error', message: 'Too many requests, please try again later.' },
  });
}

if (CACHE_ON || LIMIT_ON) await redis.connect();
const app = express();
if (LIMIT_ON) app.use('/api/', apiLimiter());
app.use('/api/v1/posts', router);
app.use((err, req, res, next) => {
  const status = err.status ?? 500;
  res.status(status).json({ status: 'error', message: status === 500 ? 'Internal error' : err.message });
});

const server = app.listen(parseInt(process.env.PORT ?? '3000', 10), '127.0.0.1');
const stop = () => server.close(() => { redis.disconnect(); process.exit(0); });
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
