import { Injectable } from '@nestjs/common';

export interface Visit {
  at: number;
  path: string;
  note: string;
}

@Injectable()
export class AppService {
  private readonly history: Visit[] = [];

  record(path: string): number {
    this.history.push({ at: Date.now(), path, note: `visit ${this.history.length} `.repeat(8) });
    return this.history.length;
  }
}
