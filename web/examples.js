// The seed documents' examples written as task specs (each node is a uasyncio call).
export const EXAMPLES = [
  {
    id: 'create_task',
    title: 'uasyncio.create_task',
    note: 'create_task(my_coroutine()): a task that returns at once.',
    spec: { name: 'my_coroutine', value: 'Running my_coroutine' },
  },
  {
    id: 'run',
    title: 'uasyncio.run',
    note: 'run(my_coroutine()): the coroutine runs to completion as the main task.',
    spec: {
      name: 'main',
      sequence: [{ name: 'my_coroutine', value: 'Running my_coroutine' }],
    },
  },
  {
    id: 'task.cancel',
    title: 'task.cancel',
    note: 'wait_for(bar(10), 7) cancelled before its timeout: press "Cancel task" within 7 s (the seed cancels at 5 s).',
    spec: {
      name: 'main',
      wait_for: { name: 'bar', sleep: 3600 },
      timeout: 7,
    },
  },
  {
    id: 'wait_for',
    title: 'uasyncio.wait_for',
    note: 'wait_for(bar(1), 7): bar sleeps 2 s at a time and is not done by 7 s, so it times out.',
    spec: {
      name: 'main',
      wait_for: {
        name: 'bar',
        sequence: [{ sleep: 2 }, { sleep: 2 }, { sleep: 2 }, { sleep: 2 }],
      },
      timeout: 7,
    },
  },
  {
    id: 'gather',
    title: 'uasyncio.gather',
    note: 'gather(bar, barking, wait_for(foo, 7), return_exceptions=True): cancel bar from the detail pane (the seed does at 5 s); barking returns 42 at 6 s, foo times out at 7 s.',
    spec: {
      name: 'gather example',
      gather: [
        { name: 'bar', sleep: 3600 },
        { name: 'barking', sequence: [{ sleep: 6 }, { value: 42 }] },
        { name: 'foo timeout', wait_for: { name: 'foo', sleep: 3600 }, timeout: 7 },
      ],
      return_exceptions: true,
    },
  },
];
