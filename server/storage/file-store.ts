/**
 * The store on a local (or mounted) directory. Writes go to a temporary name and are renamed into
 * place, so a reader (the VOD routes, another node on a shared mount) never sees half an object.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ObjectStore } from './store.js';

/** A directory as an object store. */
export class FileStore implements ObjectStore {
  readonly where: string;

  constructor(private readonly root: string) {
    this.where = `file://${root}`;
  }

  private path(key: string): string {
    // keys are built from validated names; refuse anything that could leave the root anyway
    if (key.split('/').some((p) => p === '..' || p === '.' || p === '') && key !== '') throw new Error(`file store: bad key "${key}"`);
    return join(this.root, key);
  }

  async put(key: string, body: Buffer, _contentType?: string): Promise<void> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await writeFile(tmp, body);
      await rename(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.path(key));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string, rel: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw e;
      }
      for (const e of entries) {
        if (e.isDirectory()) await walk(join(dir, e.name), `${rel}${e.name}/`);
        else if (!e.name.endsWith('.tmp')) out.push(`${rel}${e.name}`);
      }
    };
    await walk(this.path(prefix.replace(/\/$/, '')), prefix);
    return out;
  }

  async deletePrefix(prefix: string): Promise<number> {
    const count = (await this.list(prefix)).length;
    await rm(this.path(prefix.replace(/\/$/, '')), { recursive: true, force: true });
    return count;
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }
}
