export interface WebServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}
export function startWebServer(opts?: { port?: number; host?: string; monolithHttp?: string; jwtSecret?: string; wsUrl?: string }): Promise<WebServer>;
