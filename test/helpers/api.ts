import { createServer, Server } from 'http';
import { AddressInfo } from 'net';
import { createApp } from '../../src/http/app';
import { signToken, Role } from '../../src/http/auth';
import { onTestsDone } from './resources';

// One in-process API server per test run, reached over real HTTP with fetch.
let baseUrl: Promise<string> | null = null;

export function apiBaseUrl(): Promise<string> {
  if (!baseUrl) {
    baseUrl = new Promise((resolve) => {
      const server: Server = createServer(createApp().callback());
      server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
      onTestsDone(() => new Promise((done) => { server.closeAllConnections(); server.close(done); }));
    });
  }
  return baseUrl;
}

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  rawBody?: string | Buffer;
  headers?: Record<string, string>;
}

export async function api<T = any>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | Buffer | undefined;
  if (options.rawBody !== undefined) {
    body = options.rawBody;
  } else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${await apiBaseUrl()}${path}`, { method, headers, body });
  const text = await response.text();
  let parsed: any = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // left as text: the assertion that follows will show it
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

export function tokenFor(role: Role, sub: number, vendorId?: number): string {
  return signToken(vendorId === undefined ? { sub, role } : { sub, role, vendor_id: vendorId });
}

export const adminToken = (): string => tokenFor('admin', 1);
