// Validates an OpenAPI document against the official OpenAPI schema.
import { Validator } from '@seriousme/openapi-schema-validator';
import { readFileSync } from 'node:fs';

const file = process.argv[2];
const validator = new Validator();
const res = await validator.validate(JSON.parse(readFileSync(file, 'utf8')));
if (!res.valid) {
  console.error(`${file} is not a valid OpenAPI ${validator.version} document:`);
  console.error(JSON.stringify(res.errors, null, 2));
  process.exit(1);
}
console.log(`${file}: valid OpenAPI ${validator.version}`);
