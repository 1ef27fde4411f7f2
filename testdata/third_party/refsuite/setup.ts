// After each test: close every memsnap server the test started and remove
// every store it made (the reference's tests remove their memory file).
import { afterEach } from 'vitest';
import { cleanup } from './memsnap-adapter';

afterEach(cleanup);
