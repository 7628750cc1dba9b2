import { ConfigError, loadConfig } from '../../src/config';

describe('loadConfig', () => {
  it('gives working local defaults with an empty environment', () => {
    const config = loadConfig({});
    expect(config.kafka.brokers).toEqual(['127.0.0.1:9092']);
    expect(config.kafka.eventsTopic).toBe('dashboard.events');
    expect(config.kafka.deadLetterTopic).toBe('dashboard.events.dlq');
    expect(config.temporal.address).toBe('127.0.0.1:7233');
    expect(config.api.port).toBe(8080);
  });

  it('reads and coerces variables', () => {
    const config = loadConfig({
      PRECIS_KAFKA_BROKERS: 'a:1, b:2',
      PRECIS_API_PORT: '9000',
      PRECIS_QUIET_PERIOD_MS: '250',
    });
    expect(config.kafka.brokers).toEqual(['a:1', 'b:2']);
    expect(config.api.port).toBe(9000);
    expect(config.pipeline.quietPeriodMs).toBe(250);
  });

  it('names the variable that is wrong', () => {
    expect(() => loadConfig({ PRECIS_API_PORT: 'eighty' })).toThrow(ConfigError);
    expect(() => loadConfig({ PRECIS_API_PORT: 'eighty' })).toThrow(/PRECIS_API_PORT/);
    expect(() => loadConfig({ PRECIS_REDIS_URL: 'not a url' })).toThrow(/PRECIS_REDIS_URL/);
    expect(() => loadConfig({ PRECIS_LOG_LEVEL: 'loud' })).toThrow(/PRECIS_LOG_LEVEL/);
  });

  it('reports every bad variable at once', () => {
    expect(() => loadConfig({ PRECIS_API_PORT: '-1', PRECIS_TOPIC_PARTITIONS: '0' })).toThrow(
      /PRECIS_TOPIC_PARTITIONS.*PRECIS_API_PORT|PRECIS_API_PORT.*PRECIS_TOPIC_PARTITIONS/,
    );
  });
});
