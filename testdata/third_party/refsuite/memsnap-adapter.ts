// The reference memory server's module API (src/memory/index.ts of
// github.com/modelcontextprotocol/servers), served by memsnap: the vendored
// test files import '../index.js', which vitest.config.ts points here. Every
// call goes to the real 'memsnap mcp' binary through the official TypeScript
// MCP client over stdio, as an agent's would; nothing is answered here.
//
// - A memory file path (the tests make one per test) names one memsnap store,
//   made with 'memsnap init' on first use. Each KnowledgeGraphManager is its
//   own 'memsnap mcp' process on that store, started on its first call: a
//   second manager on the same path is a second server reading what the first
//   one acknowledged, as a second reference process reads the file.
// - A tool's structuredContent is returned as the reference's manager returns
//   it (the reference's tools answer with the manager's result); a tool error
//   is thrown as an Error carrying the tool's text.
// - setup.ts closes every server and removes every store after each test.
//
// Environment: REFSUITE_MEMSNAP_BIN, the memsnap binary (required);
// REFSUITE_STORES, the folder for the stores (required); every other
// variable (MEMSNAP_* settings included) reaches the memsnap processes
// (which refuse unknown MEMSNAP_* names: hence these names).
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SubscribeRequestSchema, UnsubscribeRequestSchema } from '@modelcontextprotocol/sdk/types.js';

export interface Entity {
  name: string;
  entityType: string;
  observations: string[];
}

export interface Relation {
  from: string;
  to: string;
  relationType: string;
}

export interface KnowledgeGraph {
  entities: Entity[];
  relations: Relation[];
}

const RESOURCE_URI = 'memory://knowledge-graph';

function requiredEnv(name: string): string {
  const v = process.env[name];
  if (!v) {
    throw new Error(`memsnap adapter: ${name} is not set (run the suite with 'make refsuite')`);
  }
  return v;
}

const memsnapBin = requiredEnv('REFSUITE_MEMSNAP_BIN');
const storesDir = requiredEnv('REFSUITE_STORES');

// Stores made and servers started since the last cleanup().
const stores = new Map<string, Promise<string>>(); // memory file path -> store directory
const clients = new Set<Client>();
let storeCount = 0;

// storeFor is the store that stands for memoryFilePath, initialised once.
function storeFor(memoryFilePath: string): Promise<string> {
  let store = stores.get(memoryFilePath);
  if (!store) {
    const dir = path.join(storesDir, `${++storeCount}-${path.basename(memoryFilePath)}`);
    store = promisify(execFile)(memsnapBin, ['--store', dir, '--log-level', 'error', 'init']).then(() => dir);
    stores.set(memoryFilePath, store);
  }
  return store;
}

// connect starts 'memsnap mcp' on store and returns its connected client.
async function connect(store: string): Promise<Client> {
  const client = new Client({ name: 'memsnap-refsuite', version: '1' });
  const transport = new StdioClientTransport({
    command: memsnapBin,
    args: ['--store', store, '--log-level', 'warn', 'mcp'],
    env: process.env as Record<string, string>,
    stderr: 'inherit',
  });
  clients.add(client);
  await client.connect(transport);
  return client;
}

// cleanup closes every server started and removes every store made since
// the last call (setup.ts calls it after each test).
export async function cleanup(): Promise<void> {
  const open = [...clients];
  clients.clear();
  await Promise.all(open.map((c) => c.close()));
  const made = [...stores.values()];
  stores.clear();
  for (const store of made) {
    const dir = await store.catch(() => undefined);
    if (dir) {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }
}

export class KnowledgeGraphManager {
  private client?: Promise<Client>;

  constructor(private memoryFilePath: string) {}

  // call runs a tool on this manager's server and returns its
  // structuredContent; a tool error is thrown with the tool's text.
  private async call(name: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.client ??= storeFor(this.memoryFilePath).then(connect);
    const result = await (await this.client).callTool({ name, arguments: args });
    const text = (result.content as { type: string; text?: string }[])
      .map((c) => (c.type === 'text' ? c.text : ''))
      .join('');
    if (result.isError) {
      throw new Error(text);
    }
    if (!result.structuredContent) {
      throw new Error(`${name}: no structuredContent in memsnap's answer: ${text}`);
    }
    return result.structuredContent as Record<string, unknown>;
  }

  // graph is a read tool's answer as the reference's KnowledgeGraph; an
  // answer memsnap paged (nextCursor) fails, since the reference never pages.
  private async graph(name: string, args: Record<string, unknown>): Promise<KnowledgeGraph> {
    const sc = await this.call(name, args);
    if (sc.nextCursor !== undefined) {
      throw new Error(`${name}: memsnap paged the answer (nextCursor ${String(sc.nextCursor)}); the reference answers whole`);
    }
    return { entities: sc.entities as Entity[], relations: sc.relations as Relation[] };
  }

  async createEntities(entities: Entity[]): Promise<Entity[]> {
    return (await this.call('create_entities', { entities })).entities as Entity[];
  }

  async createRelations(relations: Relation[]): Promise<Relation[]> {
    return (await this.call('create_relations', { relations })).relations as Relation[];
  }

  async addObservations(
    observations: { entityName: string; contents: string[] }[],
  ): Promise<{ entityName: string; addedObservations: string[] }[]> {
    return (await this.call('add_observations', { observations })).results as {
      entityName: string;
      addedObservations: string[];
    }[];
  }

  async deleteEntities(entityNames: string[]): Promise<void> {
    await this.call('delete_entities', { entityNames });
  }

  async deleteObservations(deletions: { entityName: string; observations: string[] }[]): Promise<void> {
    await this.call('delete_observations', { deletions });
  }

  async deleteRelations(relations: Relation[]): Promise<void> {
    await this.call('delete_relations', { relations });
  }

  async readGraph(): Promise<KnowledgeGraph> {
    return this.graph('read_graph', {});
  }

  async searchNodes(query: string): Promise<KnowledgeGraph> {
    return this.graph('search_nodes', { query });
  }

  async openNodes(names: string[]): Promise<KnowledgeGraph> {
    return this.graph('open_nodes', { names });
  }
}

// What memsnap declares about its knowledge-graph resource, asked once of a
// server on a scratch store when this module loads: the reference's
// register functions are synchronous, and the tests call them so.
const declared = await (async () => {
  const client = await connect(await storeFor(path.join(storesDir, 'declarations')));
  try {
    const { resources } = await client.listResources();
    return { resource: resources.find((r) => r.uri === RESOURCE_URI), capabilities: client.getServerCapabilities() };
  } finally {
    await cleanup();
  }
})();

// registerKnowledgeGraphResource registers on server the knowledge-graph
// resource as memsnap lists it (name, URI, title, description, MIME type);
// its handler answers with memsnap's resources/read on manager's store
// (manager must be this module's KnowledgeGraphManager).
export function registerKnowledgeGraphResource(server: McpServer, manager: KnowledgeGraphManager): void {
  const r = declared.resource;
  if (!r) {
    throw new Error(`memsnap lists no ${RESOURCE_URI} resource`);
  }
  server.registerResource(r.name, r.uri, { title: r.title, description: r.description, mimeType: r.mimeType }, async (uri: URL) => {
    if (!(manager instanceof KnowledgeGraphManager)) {
      throw new Error('the resource handler reads memsnap through a memsnap KnowledgeGraphManager, not this object');
    }
    const client = await connect(await storeFor((manager as unknown as { memoryFilePath: string }).memoryFilePath));
    return client.readResource({ uri: uri.href });
  });
}

// registerKnowledgeGraphSubscriptions declares on server the
// resources.subscribe capability as memsnap declares it and, when memsnap
// has it, subscribe and unsubscribe handlers that answer with memsnap's own
// answer to the same request (a server on a scratch store).
export function registerKnowledgeGraphSubscriptions(server: McpServer): void {
  const subscribe = declared.capabilities?.resources?.subscribe === true;
  server.server.registerCapabilities({ resources: { subscribe } });
  if (!subscribe) {
    return;
  }
  const forward = (method: 'subscribe' | 'unsubscribe') => async (request: { params: { uri: string } }) => {
    const client = await connect(await storeFor(path.join(storesDir, `${method}-scratch`)));
    return method === 'subscribe'
      ? client.subscribeResource({ uri: request.params.uri })
      : client.unsubscribeResource({ uri: request.params.uri });
  };
  server.server.setRequestHandler(SubscribeRequestSchema, forward('subscribe'));
  server.server.setRequestHandler(UnsubscribeRequestSchema, forward('unsubscribe'));
}
