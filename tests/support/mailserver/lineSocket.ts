// A CRLF line reader over a TCP socket: the common ground of the minimal SMTP and IMAP clients.
import { connect, type Socket } from "net";

export class LineSocket {
  private buffer = "";
  private readonly lines: string[] = [];
  private waiter?: { resolve: (line: string) => void; reject: (e: Error) => void };
  private failure?: Error;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      this.buffer += chunk;
      let end: number;
      while ((end = this.buffer.indexOf("\r\n")) >= 0) {
        this.lines.push(this.buffer.slice(0, end));
        this.buffer = this.buffer.slice(end + 2);
      }
      this.wake();
    });
    const fail = (e: Error) => {
      this.failure ??= e;
      this.wake();
    };
    socket.on("error", fail);
    socket.on("close", () => fail(new Error("connection closed by the server")));
  }

  static open(port: number): Promise<LineSocket> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port }, () => {
        socket.off("error", reject);
        resolve(new LineSocket(socket));
      });
      socket.once("error", reject);
    });
  }

  private wake(): void {
    if (!this.waiter) return;
    const { resolve, reject } = this.waiter;
    const line = this.lines.shift();
    if (line !== undefined) {
      this.waiter = undefined;
      resolve(line);
    } else if (this.failure) {
      this.waiter = undefined;
      reject(this.failure);
    }
  }

  readLine(): Promise<string> {
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.wake();
    });
  }

  write(text: string): void {
    this.socket.write(text);
  }

  close(): void {
    this.socket.destroy();
  }
}
